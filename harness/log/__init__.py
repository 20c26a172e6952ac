"""Reading finished logs: which arm and checkpoint, the newest result per sample, run summaries."""

from harness.log._arms import (
    arm_of,
    checkpoint_of,
    latest_samples,
    latest_variant_samples,
    local_paths,
    variant_of,
)
from harness.log._summary import GroupSummary, RunSummary, read_logs, summarise, verdict_scorer

__all__ = [
    "GroupSummary",
    "RunSummary",
    "arm_of",
    "checkpoint_of",
    "latest_samples",
    "latest_variant_samples",
    "local_paths",
    "read_logs",
    "summarise",
    "variant_of",
    "verdict_scorer",
]
