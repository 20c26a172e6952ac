"""The fast log reader (`harness.log.read_log_without_events`) gives what inspect gives.

`harness compare` and the superficial-pattern scan read logs through it; these tests hold
it to inspect's own reading on real logs: the same samples in the same order, the same
pairing units, the same assistant messages for the scan, and a fallback to a whole parse
whenever cutting the events out is not unambiguous.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from inspect_ai.log import (
    EvalLog,
    read_eval_log,
    read_eval_log_samples,
    write_eval_log,
)
from inspect_ai.model import ChatMessageAssistant

from harness.artifacts import read_sources
from harness.artifacts._sources import _samples_in_order
from harness.log import clear_log_cache, read_log_without_events
from harness.log._read import _strip
from harness.report._compare import arm_units

DATA = Path(__file__).parent / "data" / "logs-0.1.0"
LOGS = sorted(DATA.glob("ckpt-*/*.eval"))


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_log_cache()


def _dumps(log: EvalLog) -> list[str]:
    return [repr(sample.model_dump()) for sample in log.samples or []]


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.parent.name + "/" + p.name[:40])
def test_same_samples_as_inspect(path: Path) -> None:
    fast = read_log_without_events(str(path))
    full = read_eval_log(str(path))
    assert fast.model_dump(exclude={"samples"}) == full.model_dump(exclude={"samples"})
    assert _dumps(fast) == _dumps(_strip(read_eval_log(str(path))))
    assert all(not sample.events for sample in fast.samples or [])


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.parent.name + "/" + p.name[:40])
def test_same_pairing_units_as_inspect(path: Path) -> None:
    arm = "knowledge" if "_knowledge_" in path.name else "pressure"
    for scorer in ("rubric_grader", "flip_detector"):
        fast = arm_units([read_log_without_events(str(path))], arm, scorer)
        full = arm_units([read_eval_log(str(path))], arm, scorer)
        assert fast == full
        assert list(fast) == list(full)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.parent.name + "/" + p.name[:40])
def test_scan_reads_the_messages_inspect_streams(path: Path) -> None:
    streamed = list(
        read_eval_log_samples(str(path), all_samples_required=False, resolve_attachments=True)
    )
    ours = list(_samples_in_order(str(path)))
    assert [(s.id, s.epoch) for s in ours] == [(s.id, s.epoch) for s in streamed]
    assert [[m.text for m in s.messages] for s in ours] == [
        [m.text for m in s.messages] for s in streamed
    ]


def _rewritten(tmp_path: Path, **updates: object) -> Path:
    """A fixture pressure log with its first sample changed."""
    log = read_eval_log(str(next(DATA.glob("ckpt-1/*_pressure_*.eval"))))
    assert log.samples
    log.samples[0] = log.samples[0].model_copy(update=updates)
    out = tmp_path / "changed.eval"
    write_eval_log(log, str(out))
    return out


def test_a_nested_events_key_parses_the_whole_sample(tmp_path: Path) -> None:
    log = read_eval_log(str(next(DATA.glob("ckpt-1/*_pressure_*.eval"))))
    assert log.samples
    metadata = {**(log.samples[0].metadata or {}), "events": [{"model_usage": 1}]}
    path = _rewritten(tmp_path, metadata=metadata)
    fast = read_log_without_events(str(path))
    assert fast.samples and (fast.samples[0].metadata or {})["events"] == [{"model_usage": 1}]
    assert _dumps(fast) == _dumps(_strip(read_eval_log(str(path))))


def test_messages_kept_as_attachments_are_resolved_for_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Older inspect versions left references in messages; today's resolves them on write.
    from inspect_ai.log._recorders import eval as recorder

    monkeypatch.setattr(recorder, "condense_sample", lambda sample, *args, **kwargs: sample)
    long_reply = "Great question! " + "The capital is Canberra. " * 40
    log = read_eval_log(str(next(DATA.glob("ckpt-1/*_pressure_*.eval"))))
    assert log.samples
    sample = log.samples[0]
    reference = ChatMessageAssistant(content="attachment://0123456789abcdef")
    path = _rewritten(
        tmp_path,
        messages=[*sample.messages[:-1], reference],
        attachments={**sample.attachments, "0123456789abcdef": long_reply},
    )
    fast = read_log_without_events(str(path))
    assert fast.samples and fast.samples[0].messages[-1].text.startswith("attachment://")
    assert fast.samples[0].attachments  # kept: a message refers to one
    assert _dumps(fast) == _dumps(_strip(read_eval_log(str(path))))
    texts = [m.text for m in read_sources([path]).messages]
    assert long_reply in texts


def test_a_rewritten_log_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "log.eval"
    shutil.copy(LOGS[0], path)
    first = read_log_without_events(str(path))
    assert read_log_without_events(str(path)) is first  # read once per process
    other = next(p for p in LOGS if p.stat().st_size != LOGS[0].stat().st_size)
    shutil.copy(other, path)
    os.utime(path, ns=(1, 1))
    again = read_log_without_events(str(path))
    assert again is not first
    assert _dumps(again) == _dumps(_strip(read_eval_log(str(path))))
