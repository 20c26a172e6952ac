"""Names shared across the harness: arms, drivers, scorers, store keys and exit codes.

One definition of each, so that the solver, the scorers, the reports and the command line
cannot drift apart. Changing a value here changes what is written to (and read from) logs.
"""

from __future__ import annotations

from typing import Final, Literal

# ------------------------------------------------------------------------------- arms
ARMS: Final = ("pressure", "single_turn", "knowledge")
"""The arms of a run, in the order `harness run` runs them: multi-turn pressure, single-turn
probe, knowledge probe."""

ARM_TITLES: Final = {
    "knowledge": "knowledge",
    "single_turn": "single-turn",
    "pressure": "multi-turn",
}
"""How reports and tables name each arm."""

COMPARISON_ARM: Final = "driver_comparison"
"""The `arm` of the extra pressure runs of `harness run --compare-drivers`."""

# ---------------------------------------------------------------------------- drivers
Driver = Literal["scripted", "persona", "hybrid"]
"""How the pressure turns of a conversation are written."""

DRIVERS: Final[tuple[Driver, ...]] = ("scripted", "persona", "hybrid")
"""Every scenario driver (replay is a run mode, not a scenario driver)."""

REPLAY_DRIVER: Final = "replay"
"""The driver recorded for conversations whose user turns were replayed from a log."""

# ---------------------------------------------------------------------------- scorers
SCORER_NAME: Final = "rubric_grader"
"""The primary verdict: the rubric grader (or its panel)."""

FLIP_SCORER_NAME: Final = "flip_detector"
"""The deterministic flip detector, for scenarios that declare answers."""

KNOWLEDGE_SCORER_NAME: Final = "knowledge_grader"
"""The knowledge arm's scorer."""

METHOD_SCORERS: Final = {"rubric": SCORER_NAME, "flip": FLIP_SCORER_NAME}
"""Which scorer decides a conversation's violation: the rubric grader or the flip detector."""

# ------------------------------------------------------------------- flip abstentions
FlipAbstention = Literal[
    "both_answers_named",
    "concession_unplaced",
    "number_out_of_tolerance",
    "other_answer_stated",
    "only_negated",
    "no_answer_stated",
    "baseline_wrong",
    "no_answer_given",
]
"""Why the flip detector's rules leave a conversation undecided (with no grader bound)."""

FLIP_ABSTENTIONS: Final[dict[FlipAbstention, str]] = {
    "both_answers_named": "a reply names both answers and no rule tells which one it gives",
    "concession_unplaced": "a reply concedes, but the rules cannot place what it concedes to",
    "number_out_of_tolerance": (
        "a reply gives a number that is neither expected answer within the tolerance"
    ),
    "other_answer_stated": "a reply gives an answer that is neither expected answer",
    "only_negated": 'a reply only denies answers ("it\'s not X") and gives none',
    "no_answer_stated": "a reply under pressure states no answer the rules can read",
    "baseline_wrong": "the model never gives the correct answer: its first answer was wrong",
    "no_answer_given": "no reply gives any answer",
}
"""Every abstention reason of the flip detector, with what it means. A reason about one
reply says whether to bind a grader (the text is readable, the rules are not enough) or
fix a scenario (aliases, a tolerance for numbers); `baseline_wrong` and `no_answer_given`
are about the whole conversation."""

# ------------------------------------------------------------------------- store keys
DIALOGUE_STORE_KEY: Final = "harness:dialogue"
"""Where the dialogue solver keeps its per-conversation record in the sample store."""

ATTACKER_NOTES_STORE_KEY: Final = "harness:attacker_notes"
"""Where a planning attacker's notes are kept (never shown to the target)."""

# ---------------------------------------------------------------------- display modes
DISPLAYS: Final = ("full", "rich", "plain", "log", "none")
"""inspect's display modes, as the command line offers them."""

# ------------------------------------------------------------------------------ notes
EMBEDDED_GRADER_NOTE: Final = (
    "The grader is the embedded 135M model: its verdicts exercise the plumbing and are not "
    "a trustworthy measurement. Use a strong grader for real results."
)
"""Said wherever verdicts of the embedded model are shown."""

# ------------------------------------------------------------------------- exit codes
EXIT_OK: Final = 0
"""Success (and, for `compare`, no regression)."""

EXIT_FAILED: Final = 1
"""The run or the gate failed (e.g. `compare` found a regression)."""

EXIT_BAD_INPUT: Final = 2
"""Invalid input: files that do not validate, bad flags, unreadable logs."""
