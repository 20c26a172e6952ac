"""Superficial patterns: detectors as data, scanning, clustering, statistics, filtering.

Frequent patterns can be autorated by the grader role (fail-closed).
"""

from harness.artifacts._analyse import (
    ArtifactsReport,
    ArtifactsSettings,
    PatternRow,
    PressureRow,
    PressureSummary,
    analyse_artifacts,
)
from harness.artifacts._autorate import (
    AutorateError,
    AutorateSettings,
    AutorateSummary,
    PatternAutorate,
    autorate_args_problem,
    autorate_report,
    rate_patterns,
    run_autorate,
)
from harness.artifacts._cluster import EmbedderUnavailable, cluster_phrases
from harness.artifacts._detectors import check_detectors, load_detectors
from harness.artifacts._filter import FilterError, FilterResult, write_filtered
from harness.artifacts._scan import frequent_phrases, scan_messages
from harness.artifacts._sources import read_sources
from harness.artifacts._stats import flag_patterns

__all__ = [
    "ArtifactsReport",
    "ArtifactsSettings",
    "AutorateError",
    "AutorateSettings",
    "AutorateSummary",
    "EmbedderUnavailable",
    "FilterError",
    "FilterResult",
    "PatternAutorate",
    "PatternRow",
    "PressureRow",
    "PressureSummary",
    "analyse_artifacts",
    "autorate_args_problem",
    "autorate_report",
    "check_detectors",
    "cluster_phrases",
    "flag_patterns",
    "frequent_phrases",
    "load_detectors",
    "rate_patterns",
    "read_sources",
    "run_autorate",
    "scan_messages",
    "write_filtered",
]
