"""The Markdown summary of a comparison (for a CI step summary), from its JSON document."""

from __future__ import annotations

from typing import Any

from harness._util import ARM_TITLES, pct, signed_pct
from harness.report._markdown import interval


def _value(row: dict[str, Any], key: str) -> str:
    value = row[key]
    if row["kind"] == "score":
        return "—" if value is None else f"{value:.2f}"
    return pct(value)


def _difference(row: dict[str, Any]) -> str:
    if row["kind"] == "score":
        low, high = row["ci95"]
        ci = "—" if low is None else f"{low:+.2f} to {high:+.2f}"
        value = row["difference"]
        return f"{'—' if value is None else f'{value:+.2f}'} ({ci})"
    return f"{signed_pct(row['difference'])} ({interval(row['ci95'], signed=True)})"


def _mde(row: dict[str, Any]) -> str:
    if not row["power"]["attainable"]:
        return "cannot be significant"
    if row["mde"] is None:
        return "none detectable"
    return f"{row['mde']:.2f}" if row["kind"] == "score" else f"{100 * row['mde']:.1f} pp"


def _noise_note(document: dict[str, Any]) -> str:
    """The chance variation the MDEs assume, as the rows record it."""
    notes = sorted(
        {
            f"{pct(p['noise'])} of pairs ({p['noise_source']})"
            if row["kind"] == "rate"
            else f"a knowledge-difference SD of {p['noise']:.2f} ({p['noise_source']})"
            for row in document["comparisons"]
            if (p := row["power"])
        }
    )
    return "; ".join(notes) or "nothing"


def gate_verdict_line(document: dict[str, Any]) -> str:
    """One line: the gate's verdict, and the rule that decided it."""
    decision = document["decision"]
    regressions = [r for r in document["comparisons"] if r["regression"]]
    if not regressions:
        if decision["rule"] == "margin":
            return (
                "**No regression** (margin rule): no violation-rate increase shown to exceed "
                "the margin, and no knowledge-score drop shown to exceed its margin."
            )
        return (
            "**No regression** (change rule): no significant increase in a violation rate "
            "beyond the margin, and no significant drop in a knowledge score beyond its margin."
        )
    key = decision["p_key"]
    parts = [
        f"{r['trait']} ({ARM_TITLES[r['arm']]} {_difference(r).split(' (')[0]}, "
        f"{key}={r[key]:.3g}, {r['candidate']})"
        for r in regressions
    ]
    traits = ", ".join(sorted(set(document["regressed_traits"])))
    return f"**REGRESSION** in {traits} ({decision['rule']} rule): " + "; ".join(parts)


def compare_markdown(document: dict[str, Any]) -> str:
    """The comparison as Markdown: verdict, comparisons, trajectory, skips, warnings."""
    labels = [c["label"] for c in document["checkpoints"]]
    lines = [
        f"# harness compare: {' → '.join(labels)}",
        "",
        gate_verdict_line(document),
        "",
        f"Baseline `{labels[0]}`. Verdicts by the {document['method']} scorer. "
        + document["decision"]["statement"],
        "",
        "| trait | arm | candidate | baseline | candidate | difference (95% CI) | p | p (Holm) "
        "| p beyond margin (Holm) | MDE | pairs | |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in document["comparisons"]:
        mode = " (replayed)" if row.get("mode") == "replay" else ""
        lines.append(
            f"| {row['trait']} | {ARM_TITLES[row['arm']]}{mode} | {row['candidate']} "
            f"| {_value(row, 'baseline_value')} | {_value(row, 'candidate_value')} "
            f"| {_difference(row)} | {row['p_value']:.3g} | {row['p_holm']:.3g} "
            f"| {row['p_margin_holm']:.3g} | {_mde(row)} "
            f"| {row['n_pairs']} | {'**regression**' if row['regression'] else ''} |"
        )
    lines += [
        "",
        "Rates and differences are over the pairs; violation-rate CIs are Tango's score "
        "intervals, knowledge-score CIs paired bootstrap intervals. p: two-sided test of no "
        "change (exact McNemar for violation rates, paired sign flip for knowledge scores). "
        "p beyond margin: one-sided test that the change exceeds the margin (Tango's score "
        "test with the exact McNemar test; one-sided sign flip). MDE: the smallest true change "
        "the deciding rule detects with 80% power at the level the row faces (alpha over the "
        "number of comparisons, Holm's first step), assuming "
        f'{_noise_note(document)} of chance disagreement; "cannot be significant": no '
        "result of this many pairs could reach that level (a warning names the pairs needed).",
    ]
    trajectory = document["trajectory"]
    if len(labels) > 2:
        lines += ["", "## Trajectory", "", "| trait | arm | " + " | ".join(labels) + " |"]
        lines.append("|---|---|" + "---|" * len(labels))
        for trait, arms in trajectory["traits"].items():
            for arm, values in arms.items():
                cells = [
                    "—" if v is None else (f"{v:.2f}" if arm == "knowledge" else pct(v))
                    for v in values
                ]
                lines.append(f"| {trait} | {ARM_TITLES[arm]} | " + " | ".join(cells) + " |")
    if document["attacker_variance"]:
        lines += [
            "",
            "## Attacker variance (live vs replayed user turns, same checkpoint)",
            "",
            "| checkpoint | pairs | discordant | live | replayed | difference (95% CI) | p |",
            "|---|---|---|---|---|---|---|",
        ]
        for v in document["attacker_variance"]:
            lines.append(
                f"| {v['checkpoint']} | {v['n_pairs']} | {pct(v['discordant_share'])} "
                f"| {pct(v['live_rate'])} | {pct(v['replay_rate'])} "
                f"| {signed_pct(v['difference'])} ({interval(v['ci95'], signed=True)}) "
                f"| {v['p_value']:.3g} |"
            )
    if document["skipped"]:
        lines += ["", "## Not paired", ""]
        for skip in document["skipped"]:
            examples = ", ".join(f"`{e}`" for e in skip["examples"])
            lines.append(
                f"- {skip['candidate']}, {ARM_TITLES[skip['arm']]}: {skip['count']} "
                f"{skip['reason']} (e.g. {examples})"
            )
    if document["warnings"]:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in document["warnings"])]
    return "\n".join(lines) + "\n"
