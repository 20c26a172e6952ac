"""Reading finished logs: which arm and checkpoint, the newest result per sample, run summaries."""

from harness.log._arms import (
    arm_of,
    checkpoint_of,
    latest_samples,
    latest_variant_samples,
    local_paths,
    variant_of,
)
from harness.log._read import (
    clear_log_cache,
    read_log_without_events,
    read_logs_without_events,
)
from harness.log._summary import GroupSummary, RunSummary, read_logs, summarise, verdict_scorer

__all__ = [
    "GroupSummary",
    "RunSummary",
    "arm_of",
    "checkpoint_of",
    "clear_log_cache",
    "latest_samples",
    "latest_variant_samples",
    "local_paths",
    "read_log_without_events",
    "read_logs",
    "read_logs_without_events",
    "summarise",
    "variant_of",
    "verdict_scorer",
]
