"""Reading large `.eval` logs fast: the samples as reports read them, one pass, once per file.

A report, a comparison and the superficial-pattern scan read each sample's id, epoch,
messages, scores, metadata, store and error, never its events, which are most of a log's
bytes and most of the time inspect spends validating it (2-3 ms a sample, quadratic in the
samples through `read_eval_log_samples`). `read_log_without_events` opens the zip once,
decompresses each sample with one context, cuts its `events` out of the JSON before
parsing and validates the rest as an `EvalSample`. The result is the log `read_eval_log`
gives, samples in the same order, except that `events`, `events_data`, `input`, `output`,
`model_usage`, `role_usage`, and `attachments` that no message refers to, are empty.
Logs in any other form (`.json`, remote) are read by inspect and emptied the same way.
Results are kept per file (path, size and modification time) for the process, so that a
comparison and its pattern scan read each log once.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

import zstandard
from inspect_ai._util.constants import DESERIALIZING
from inspect_ai.log import EvalLog, EvalSample, read_eval_log
from inspect_ai.log._log import sort_samples

from harness.log._summary import log_paths

CACHED_LOGS = 8
"""Logs kept per process (a comparison of two checkpoints of three arms fits)."""
_EVENTS_START = b',"events":['
_EVENTS_END = b'],"model_usage":'
"""inspect writes a sample's fields in order: `events` is followed by `model_usage`."""
_DROPPED = ("events", "events_data", "output", "model_usage", "role_usage")
"""Left out (with `input`, and `attachments` that no message refers to): no report reads
them, and in memory they are about a third of a sample without its events."""
ATTACHMENT = "attachment://"
_ATTACHMENT_BYTES = ATTACHMENT.encode()
ZIP_ZSTANDARD = 93
"""inspect compresses log members with zstd (possibly several frames a member)."""
_LOCAL_HEADER = struct.Struct("<4s22xHH")

_cache: OrderedDict[tuple[str, int, int], EvalLog] = OrderedDict()


def _sample_data(raw: bytes) -> dict[str, Any]:
    """A sample's JSON without its events; parsed whole when the cut is not unambiguous."""
    start = raw.find(_EVENTS_START)
    end = raw.find(_EVENTS_END, start)
    data: Any = None
    # Only a cut between two markers that each occur once: a nested "events" key, or
    # another field order, makes the whole document parse instead.
    once = raw.find(_EVENTS_START, start + 1) < 0 and raw.find(_EVENTS_END, end + 1) < 0
    if start > 0 and end > start and once:
        try:
            data = json.loads(raw[:start] + raw[end + 1 :])
        except ValueError:
            data = None
    if not isinstance(data, dict) or "model_usage" not in data or "id" not in data:
        data = json.loads(raw)
    for name in _DROPPED:
        data.pop(name, None)
    data["input"] = ""  # required, and read by no report: the messages hold the conversation
    # A reference can only be in the bytes parsed; most samples have none at all.
    if _ATTACHMENT_BYTES not in raw or ATTACHMENT not in json.dumps(data.get("messages")):
        data.pop("attachments", None)  # refer to the events' content, which is gone
    return data  # type: ignore[no-any-return]


def _zstd(data: bytes, context: zstandard.ZstdDecompressor) -> bytes:
    """Every zstd frame of a member, in order."""
    out: list[bytes] = []
    while data:
        frame = context.decompressobj()
        out.append(frame.decompress(data))
        data = frame.unused_data if frame.eof else b""
    return b"".join(out)


def _member(
    archive: zipfile.ZipFile,
    handle: IO[bytes],
    info: zipfile.ZipInfo,
    context: zstandard.ZstdDecompressor,
) -> bytes:
    """A member's bytes, CRC-checked, with one decompression context for the whole log.

    `ZipFile.read` creates a zstd context per member (inspect's decompressor), which costs
    more than reading a small sample; anything but a plain stored, deflated or zstd
    member goes through it.
    """
    handle.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(30))
    if signature != b"PK\x03\x04" or info.flag_bits & 0x1:
        return archive.read(info)
    handle.seek(info.header_offset + 30 + name_length + extra_length)
    data = handle.read(info.compress_size)
    if info.compress_type == ZIP_ZSTANDARD:
        data = _zstd(data, context)
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        data = zlib.decompress(data, -15)
    elif info.compress_type != zipfile.ZIP_STORED:
        return archive.read(info)
    if zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC-32 for member {info.filename}")
    return data


def _read_zip(location: str, path: Path) -> EvalLog:
    header = read_eval_log(location, header_only=True)
    samples: list[EvalSample] = []
    # No message cache: it hashes every message to share the ones events repeat, and
    # these samples have no events.
    validation = {DESERIALIZING: True}
    context = zstandard.ZstdDecompressor()
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
        # A re-logged sample appends a member of the same name: the last one counts.
        members = {info.filename: info for info in archive.infolist()}
        for name, info in members.items():
            if name.startswith("samples/") and name.endswith(".json"):
                data = _sample_data(_member(archive, handle, info, context))
                samples.append(EvalSample.model_validate(data, context=validation))
    sort_samples(samples)
    header.samples = samples
    if header.eval.dataset.sample_ids is None:
        header.eval.dataset.sample_ids = list(dict.fromkeys(s.id for s in samples))
    return header


def read_log_without_events(location: str) -> EvalLog:
    """A log with its samples, each without `events` (and `events_data`), read once per file.

    The same log `read_eval_log(location)` gives otherwise: samples in the same order,
    attachments unresolved. The result is shared: do not modify it.
    """
    path = Path(location.removeprefix("file://"))
    try:
        stat = path.stat()
    except OSError:
        return _strip(read_eval_log(location))
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    log = _read_zip(location, path) if zipfile.is_zipfile(path) else _strip(read_eval_log(location))
    _cache[key] = log
    while len(_cache) > CACHED_LOGS:
        _cache.popitem(last=False)
    return log


def read_logs_without_events(sources: list[Path]) -> list[EvalLog]:
    """`read_logs` without sample events: every log of files and folders, read once per file."""
    return [read_log_without_events(location) for location in log_paths(sources)]


def _strip(log: EvalLog) -> EvalLog:
    """A log read by inspect, emptied of what the fast path leaves out."""
    empty = {name: EvalSample.model_fields[name].get_default(call_default_factory=True)
             for name in _DROPPED}  # fmt: skip
    samples = []
    for sample in log.samples or []:
        update = {**empty, "input": ""}
        if ATTACHMENT not in json.dumps([m.model_dump(mode="json") for m in sample.messages]):
            update["attachments"] = {}
        samples.append(sample.model_copy(update=update))
    log.samples = samples
    return log


def clear_log_cache() -> None:
    """Forget the logs read so far (tests; a long process that rewrites logs in place)."""
    _cache.clear()
