"""Benchmarks and the mock OpenAI-compatible model server they (and the tests) share."""
