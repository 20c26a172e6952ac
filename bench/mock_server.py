"""A mock OpenAI-compatible chat server on 127.0.0.1, shared by tests and benchmarks.

It answers `POST /v1/chat/completions` (plain and `stream: true`) and `GET /v1/models`,
routing on the request's `model` field, so each role of a run (inspect's
`openai-api/mock/target`, `.../attacker`, `.../grader` arrive as `target`, `attacker`,
`grader`) gets its own reply mode, fault rates and counters. Replies carry `usage`
(about one token per four characters), so inspect never needs a tokenizer.

Reply modes per model: `echo` (the last user message), `canned` (fixed texts, cycled)
or `responder` (a callable `(request_json) -> str | dict`; a dict is a whole assistant
message, tool calls included). Faults are drawn per request from a seeded RNG per
model: `http_5xx` (500/502/503 with a JSON error body), `timeout` (the request is held
far longer than any client waits, then dropped), `malformed` (200 with a body that is
not valid JSON or not a completion) and `dropped` (the connection closes without a
response).

In-process::

    with MockServer(MockConfig(latency_s=0.05)) as server:
        server.base_url  # http://127.0.0.1:PORT/v1
        server.stats(), server.requests

As a process (prints one JSON line with the port when it listens; stop it by pid)::

    python -m bench.mock_server --port 0 --latency 0.2 \
        --model-responder grader=bench.petri_responder:judge --faults 5xx=0.1,dropped=0.02

`GET /stats` returns the counters as JSON (`?requests=1` adds every request's record)
and `POST /stats/reset` clears them; `POST /pause` (`{"models": [...]}`, or no body for
all) holds requests until `POST /release`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HOST = "127.0.0.1"
"""The only interface the server listens on."""

FAULT_KINDS = ("http_5xx", "timeout", "malformed", "dropped")
"""Injected faults, in the order their rates are stacked on the unit interval."""

OUTCOMES = ("ok", *FAULT_KINDS, "responder_error", "bad_request", "cancelled")
"""What a request can end as; every counter has these keys (`cancelled`: the client
went away before the answer, e.g. while the request was paused)."""

Responder = Callable[[dict[str, Any]], "str | dict[str, Any]"]
"""Decides a reply from the request JSON: a text, or a whole assistant message."""

_FAULT_ALIASES = {"5xx": "http_5xx", "http_5xx": "http_5xx", "timeout": "timeout",
                  "malformed": "malformed", "dropped": "dropped", "drop": "dropped"}  # fmt: skip

# Bodies of the `malformed` fault: cut-off JSON, no JSON at all, JSON that is not a completion.
_MALFORMED_BODIES = (
    '{"id": "chatcmpl-mock", "object": "chat.completion", "choices": [{"index": 0, "mess',
    "<html><body>502 Bad Gateway</body></html>",
    '{"object": "error", "detail": "not a completion"}',
)
_MALFORMED_STREAM = 'data: {"id": "chatcmpl-mock", "choices": [{"delta": {"content": "x\n\n'


class FaultRates(BaseModel):
    """Probability of each injected fault per request (drawn once per request)."""

    model_config = ConfigDict(extra="forbid")

    http_5xx: float = Field(default=0.0, ge=0.0, le=1.0)
    """Answer 500, 502 or 503 with a JSON error body."""
    timeout: float = Field(default=0.0, ge=0.0, le=1.0)
    """Hold the request for `MockConfig.timeout_hold_s`, then close the connection."""
    malformed: float = Field(default=0.0, ge=0.0, le=1.0)
    """Answer 200 with a body that is not valid JSON or not a chat completion."""
    dropped: float = Field(default=0.0, ge=0.0, le=1.0)
    """Close the connection without sending any response."""

    @model_validator(mode="after")
    def _at_most_one(self) -> FaultRates:
        if self.total() > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {self.total():.3f}, more than 1")
        return self

    def total(self) -> float:
        """The share of requests that get some fault."""
        return self.http_5xx + self.timeout + self.malformed + self.dropped

    @classmethod
    def parse(cls, text: str) -> FaultRates:
        """Rates from `5xx=0.1,timeout=0.05,malformed=0.02,dropped=0.02`."""
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            if key.strip() not in _FAULT_ALIASES or not value:
                raise ValueError(f"bad fault rate '{part}' (keys: {', '.join(_FAULT_ALIASES)})")
            rates[_FAULT_ALIASES[key.strip()]] = float(value)
        return cls(**rates)


def load_responder(spec: str) -> Responder:
    """Import `package.module:function` and return the function."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"responder '{spec}' is not of the form package.module:function")
    target: Any = importlib.import_module(module_name)
    for name in attribute.split("."):
        target = getattr(target, name)
    if not callable(target):
        raise ValueError(f"responder '{spec}' is not callable")
    return target  # type: ignore[no-any-return]


class ModelBehaviour(BaseModel):
    """How the server answers requests for one model name."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    mode: Literal["echo", "canned", "responder"] = "echo"
    """`echo` repeats the last user message; `canned` cycles `canned`; `responder` calls it."""
    canned: list[str] = Field(default_factory=lambda: ["OK."], min_length=1)
    """Replies of the `canned` mode, used in turn."""
    responder: Any = None
    """A callable `(request_json) -> str | dict`, or its `package.module:function` path."""
    faults: FaultRates | None = None
    """This model's fault rates; None uses `MockConfig.faults`."""
    latency_s: float | None = Field(default=None, ge=0.0)
    """This model's fixed delay per request; None uses `MockConfig.latency_s`."""

    @model_validator(mode="before")
    @classmethod
    def _infer_mode(cls, data: Any) -> Any:
        # A responder or canned texts given without a mode mean that mode.
        if isinstance(data, dict) and "mode" not in data:
            if data.get("responder") is not None:
                return {**data, "mode": "responder"}
            if data.get("canned"):
                return {**data, "mode": "canned"}
        return data

    @field_validator("responder")
    @classmethod
    def _resolve_responder(cls, value: Any) -> Any:
        if isinstance(value, str):
            return load_responder(value)
        if value is not None and not callable(value):
            raise ValueError("responder must be callable or a 'package.module:function' path")
        return value

    @model_validator(mode="after")
    def _responder_given(self) -> ModelBehaviour:
        if self.mode == "responder" and self.responder is None:
            raise ValueError("mode 'responder' needs a responder")
        return self


class MockConfig(BaseModel):
    """Everything the mock server does: delays, replies per model, faults, seed."""

    model_config = ConfigDict(extra="forbid")

    latency_s: float = Field(default=0.0, ge=0.0)
    """Fixed delay before every answer (faults included, except `timeout`)."""
    tokens_per_s: float = Field(default=0.0, ge=0.0)
    """Extra delay of completion tokens / this rate per answer; 0 turns it off."""
    seed: int = 0
    """Seed of the per-model fault RNGs: the k-th request to a model always draws the same."""
    faults: FaultRates = Field(default_factory=FaultRates)
    """Fault rates of every model that sets none of its own."""
    models: dict[str, ModelBehaviour] = Field(default_factory=dict)
    """Behaviour per model name (the request's `model` field)."""
    default: ModelBehaviour = Field(default_factory=ModelBehaviour)
    """Behaviour of model names not in `models`."""
    timeout_hold_s: float = Field(default=120.0, gt=0.0)
    """How long a `timeout` fault holds a request before dropping it."""
    record_messages: bool = True
    """Keep every request's messages in its record (tests read them; long benchmarks may not)."""
    port: int = Field(default=0, ge=0, le=65535)
    """Port to listen on; 0 picks a free one."""

    def behaviour(self, model: str) -> ModelBehaviour:
        """The behaviour for a model name."""
        return self.models.get(model, self.default)


@dataclass
class RequestRecord:
    """One request the server received and what it did with it."""

    model: str
    """The request's `model` field."""
    index: int
    """Position among this model's requests, from 0."""
    time: float
    """Arrival, seconds since the epoch."""
    outcome: str
    """`ok`, a fault kind, `responder_error` or `bad_request`."""
    stream: bool
    """Whether the client asked for a streamed reply."""
    messages: list[dict[str, Any]] | None
    """The request's messages (None when `record_messages` is off)."""
    done: float | None = None
    """When the answer (or the fault) was delivered; None while in flight."""
    held: bool = False
    """Whether it had to wait for `release()` (it came while its model was paused)."""


def content_text(content: Any, sep: str = "") -> str:
    """The text of a message's `content`: a string, or the text parts of a list joined by `sep`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return sep.join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def count_tokens(text: str) -> int:
    """About one token per four characters (at least one for any text)."""
    return max(1, len(text) // 4) if text else 0


def last_user_text(request: dict[str, Any]) -> str:
    """The text of the request's last user message ('' when there is none)."""
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def _assistant_message(reply: str | dict[str, Any]) -> dict[str, Any]:
    """A reply as a well-formed assistant message (tool call ids and JSON arguments filled)."""
    if isinstance(reply, str):
        return {"role": "assistant", "content": reply}
    message: dict[str, Any] = {"role": "assistant", "content": None, **reply}
    calls = []
    for n, call in enumerate(message.get("tool_calls") or []):
        function = dict(call.get("function") or {})
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            function["arguments"] = json.dumps(arguments)
        calls.append({"id": call.get("id") or f"call_mock_{n}", "type": "function",
                      **{k: v for k, v in call.items() if k not in ("id", "type")},
                      "function": function})  # fmt: skip
    if calls:
        message["tool_calls"] = calls
    else:
        message.pop("tool_calls", None)
    return message


def _completion_tokens(message: dict[str, Any]) -> int:
    text = content_text(message.get("content"))
    for call in message.get("tool_calls") or []:
        text += call["function"].get("name", "") + call["function"].get("arguments", "")
    return count_tokens(text)


class _ModelState:
    """Per-model RNG, canned-reply cursor and counters."""

    def __init__(self, name: str, seed: int) -> None:
        self.rng = random.Random(f"{seed}:{name}")
        self.cursor = itertools.count()
        self.requests = 0
        self.outcomes: Counter[str] = Counter({o: 0 for o in OUTCOMES})
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.first: float | None = None
        self.last: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "outcomes": dict(self.outcomes),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "first_request_at": self.first,
            "last_answer_at": self.last,
        }


class MockBackend:
    """The request handling and bookkeeping behind the HTTP routes (thread-safe reads)."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._models: dict[str, _ModelState] = {}
        self._records: list[RequestRecord] = []
        self._started = time.time()
        self._paused: set[str] = set()
        self._pause_all = False
        self._released: asyncio.Event | None = None

    # ------------------------------------------------------------ bookkeeping

    def _state(self, model: str) -> _ModelState:
        state = self._models.get(model)
        if state is None:
            state = self._models[model] = _ModelState(model, self.config.seed)
        return state

    def _begin(self, model: str, request: dict[str, Any]) -> tuple[RequestRecord, str, float]:
        """Register a request; draw its fault (or `ok`) and a number for the fault's variant."""
        behaviour = self.config.behaviour(model)
        rates = behaviour.faults or self.config.faults
        now = time.time()
        with self._lock:
            state = self._state(model)
            draw, variant = state.rng.random(), state.rng.random()
            outcome, edge = "ok", 0.0
            for kind in FAULT_KINDS:
                edge += getattr(rates, kind)
                if draw < edge:
                    outcome = kind
                    break
            record = RequestRecord(
                model=model,
                index=state.requests,
                time=now,
                outcome=outcome,
                stream=bool(request.get("stream")),
                messages=request.get("messages") if self.config.record_messages else None,
            )
            state.requests += 1
            state.first = now if state.first is None else state.first
            self._records.append(record)
        return record, outcome, variant

    def _finish(
        self, record: RequestRecord, outcome: str, prompt: int = 0, completion: int = 0
    ) -> None:
        now = time.time()
        with self._lock:
            state = self._state(record.model)
            record.outcome, record.done = outcome, now
            state.outcomes[outcome] += 1
            state.prompt_tokens += prompt
            state.completion_tokens += completion
            state.last = now

    def stats(self, requests: bool = False) -> dict[str, Any]:
        """Counters per model and in total; with `requests`, every request's record."""
        with self._lock:
            models = {name: state.as_dict() for name, state in sorted(self._models.items())}
            records = [asdict(r) for r in self._records] if requests else None
        totals: Counter[str] = Counter({o: 0 for o in OUTCOMES})
        for model in models.values():
            totals.update(model["outcomes"])
        firsts = [m["first_request_at"] for m in models.values() if m["first_request_at"]]
        lasts = [m["last_answer_at"] for m in models.values() if m["last_answer_at"]]
        result: dict[str, Any] = {
            "models": models,
            "totals": {
                "requests": sum(m["requests"] for m in models.values()),
                "outcomes": dict(totals),
                "prompt_tokens": sum(m["prompt_tokens"] for m in models.values()),
                "completion_tokens": sum(m["completion_tokens"] for m in models.values()),
                "first_request_at": min(firsts, default=None),
                "last_answer_at": max(lasts, default=None),
            },
            "config": {
                "latency_s": self.config.latency_s,
                "tokens_per_s": self.config.tokens_per_s,
                "seed": self.config.seed,
            },
            "started_at": self._started,
        }
        if records is not None:
            result["requests"] = records
        return result

    def records(self) -> list[RequestRecord]:
        """A copy of the list of request records (the records themselves are shared)."""
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        """Forget every counter and record; RNGs and canned cursors start again."""
        with self._lock:
            self._models.clear()
            self._records.clear()
            self._started = time.time()

    # ------------------------------------------------------------ pausing

    def pause(self, models: list[str] | None = None) -> None:
        """Hold new and waiting requests of these models (None: all) until `release()`.

        Call on the server's event loop.
        """
        if models is None:
            self._pause_all = True
        else:
            self._paused.update(models)
        if self._released is None:
            self._released = asyncio.Event()
        self._released.clear()

    def release(self) -> None:
        """Let every held request go on. Call on the server's event loop."""
        self._paused.clear()
        self._pause_all = False
        if self._released is not None:
            self._released.set()

    async def _wait_while_paused(self, record: RequestRecord) -> None:
        while self._released is not None and (self._pause_all or record.model in self._paused):
            record.held = True
            await self._released.wait()

    # ------------------------------------------------------------ replies

    def _reply(self, model: str, request: dict[str, Any]) -> dict[str, Any]:
        behaviour = self.config.behaviour(model)
        if behaviour.mode == "echo":
            return _assistant_message(last_user_text(request))
        if behaviour.mode == "canned":
            with self._lock:
                n = next(self._state(model).cursor)
            return _assistant_message(behaviour.canned[n % len(behaviour.canned)])
        return _assistant_message(behaviour.responder(request))

    def _delay(self, model: str, completion_tokens: int) -> float:
        behaviour = self.config.behaviour(model)
        latency = self.config.latency_s if behaviour.latency_s is None else behaviour.latency_s
        if self.config.tokens_per_s > 0:
            latency += completion_tokens / self.config.tokens_per_s
        return latency

    # ------------------------------------------------------------ routes

    async def chat_completions(self, http: web.Request) -> web.StreamResponse:
        """`POST /v1/chat/completions`: a completion, a streamed one, or an injected fault."""
        try:
            request = await http.json()
            if not isinstance(request, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as exc:
            record, _, _ = self._begin("(invalid)", {})
            self._finish(record, "bad_request")
            return _error(400, f"invalid request body: {exc}", "invalid_request_error")
        model = str(request.get("model") or "")
        record, outcome, variant = self._begin(model, request)
        try:
            await self._wait_while_paused(record)
            return await self._answer(http, request, model, record, outcome, variant)
        except asyncio.CancelledError:
            # The client went away (its timeout, or it died) or the server is stopping:
            # a held `timeout` fault counts as itself, anything else as cancelled.
            if record.done is None:
                self._finish(record, "timeout" if outcome == "timeout" else "cancelled")
            raise

    async def _answer(
        self,
        http: web.Request,
        request: dict[str, Any],
        model: str,
        record: RequestRecord,
        outcome: str,
        variant: float,
    ) -> web.StreamResponse:
        stream = bool(request.get("stream"))
        if outcome == "timeout":
            await asyncio.sleep(self.config.timeout_hold_s)
            self._finish(record, outcome)
            return _drop(http)
        if outcome != "ok":
            await asyncio.sleep(self._delay(model, 0))
            self._finish(record, outcome)
            if outcome == "dropped":
                return _drop(http)
            if outcome == "http_5xx":
                status = (500, 502, 503)[int(variant * 3)]
                return _error(status, f"mock server error {status}", "server_error", status)
            if stream:
                return await _raw_stream(http, _MALFORMED_STREAM)
            body = _MALFORMED_BODIES[int(variant * len(_MALFORMED_BODIES))]
            return web.Response(body=body.encode(), content_type="application/json")
        try:
            message = self._reply(model, request)
        except Exception as exc:  # a responder bug is the benchmark's, shown to the client
            await asyncio.sleep(self._delay(model, 0))
            self._finish(record, "responder_error")
            return _error(500, f"mock responder failed: {type(exc).__name__}: {exc}",
                          "responder_error", 500)  # fmt: skip
        prompt = count_tokens(
            "".join(content_text(m.get("content")) for m in request.get("messages") or [])
        )
        completion = _completion_tokens(message)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        finish_reason = "tool_calls" if message.get("tool_calls") else "stop"
        await asyncio.sleep(self._delay(model, completion))
        self._finish(record, "ok", prompt, completion)
        base = {"id": f"chatcmpl-mock-{record.index}", "created": int(record.time),
                "model": model}  # fmt: skip
        if stream:
            return await _stream(http, base, message, finish_reason, usage, request)
        body = {
            **base,
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
            ],
            "usage": usage,
        }
        return web.json_response(body)

    async def models(self, http: web.Request) -> web.Response:
        """`GET /v1/models`: the configured model names."""
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "mock"}
                for name in sorted(self.config.models)]  # fmt: skip
        return web.json_response({"object": "list", "data": data})

    async def get_stats(self, http: web.Request) -> web.Response:
        """`GET /stats` (`?requests=1` adds every request's record)."""
        wanted = http.query.get("requests", "") not in ("", "0", "false")
        return web.json_response(self.stats(requests=wanted))

    async def post_reset(self, http: web.Request) -> web.Response:
        """`POST /stats/reset`: clear counters and records."""
        self.reset()
        return web.json_response({"reset": True})

    async def post_pause(self, http: web.Request) -> web.Response:
        """`POST /pause` with `{"models": [...]}` (or no body: every model)."""
        body = await http.json() if http.can_read_body else {}
        models = body.get("models") if isinstance(body, dict) else None
        self.pause(list(models) if models is not None else None)
        return web.json_response({"paused": models if models is not None else "all"})

    async def post_release(self, http: web.Request) -> web.Response:
        """`POST /release`: answer held requests, hold no more."""
        self.release()
        return web.json_response({"released": True})

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/stats", self.get_stats)
        app.router.add_post("/stats/reset", self.post_reset)
        app.router.add_post("/pause", self.post_pause)
        app.router.add_post("/release", self.post_release)
        return app


def _error(status: int, message: str, kind: str, code: int | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": code or status}}
    return web.json_response(body, status=status)


def _drop(http: web.Request) -> web.StreamResponse:
    # Closing the transport and cancelling the handler sends nothing at all.
    if http.transport is not None:
        http.transport.close()
    raise asyncio.CancelledError


async def _raw_stream(http: web.Request, text: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(http)
    await response.write(text.encode())
    await response.write_eof()
    return response


async def _stream(
    http: web.Request,
    base: dict[str, Any],
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, int],
    request: dict[str, Any],
) -> web.StreamResponse:
    """The reply as server-sent events: content and tool calls in one chunk, then usage."""
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": n, **call} for n, call in enumerate(message["tool_calls"])]
    chunk = {**base, "object": "chat.completion.chunk"}
    events = [
        {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]},
    ]
    if (request.get("stream_options") or {}).get("include_usage"):
        events.append({**chunk, "choices": [], "usage": usage})
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return await _raw_stream(http, text)


class MockServer:
    """The mock server on a background thread with its own event loop.

    Use as `with MockServer(config) as server:`; `base_url`, `port`, `stats()` and
    `requests` are available while it runs.
    """

    def __init__(self, config: MockConfig | None = None, **settings: Any) -> None:
        self.config = config if config is not None else MockConfig(**settings)
        self.backend = MockBackend(self.config)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def url(self) -> str:
        """The server root, e.g. `http://127.0.0.1:PORT`."""
        return f"http://{HOST}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far, in arrival order."""
        return self.backend.records()

    def stats(self, requests: bool = False) -> dict[str, Any]:
        """The counters `GET /stats` returns."""
        return self.backend.stats(requests)

    def reset(self) -> None:
        """Clear counters and records (as `POST /stats/reset`)."""
        self.backend.reset()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is in flight (each has its outcome); False on timeout.

        A client that gives up returns before the server has seen the connection
        close: read the counters after this to have those requests counted.
        """
        deadline = time.monotonic() + timeout
        while any(r.done is None for r in self.backend.records()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def pause(self, models: list[str] | None = None) -> None:
        """Hold every request of these models (None: all models) until `release()`.

        Requests already waiting for their latency finish; new ones and ones not yet
        started wait. A client that gives up meanwhile is counted as `cancelled`.
        """
        self._call(self.backend.pause, models)

    def release(self) -> None:
        """Answer the held requests and stop holding new ones."""
        self._call(self.backend.release)

    def _call(self, function: Callable[..., None], *args: Any) -> None:
        # Runs `function` on the server's loop and waits for it, so that the pause is
        # in force when this returns.
        if self._loop is None:
            raise RuntimeError("the mock server is not running")

        async def call() -> None:
            function(*args)

        asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def start(self) -> MockServer:
        """Start listening; returns when the port is bound (raises if it cannot be)."""
        self._thread = threading.Thread(target=self._run, name="mock-server", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"mock server did not start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("mock server did not start within 30 s")
        return self

    def stop(self) -> None:
        """Stop listening, cancel held requests and join the thread."""
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)
        self._thread = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serving(self.backend, self.config.port) as port:
            self.port = port
            self._ready.set()
            await self._stop.wait()


@contextlib.asynccontextmanager
async def serving(backend: MockBackend, port: int) -> Any:
    """Serve `backend` on 127.0.0.1:`port` (0: a free port) inside the block; yields the port."""
    # handler_cancellation: a client that gives up (its timeout) frees its held handler.
    runner = web.AppRunner(backend.app(), access_log=None, handler_cancellation=True,
                           shutdown_timeout=0.5)  # fmt: skip
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, shutdown_timeout=0.5)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    try:
        yield sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- command line


def _pairs(values: list[str], flag: str) -> Iterator[tuple[str, str]]:
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise SystemExit(f"{flag} wants NAME=VALUE, not '{value}'")
        yield name, rest


def config_from_args(args: argparse.Namespace) -> MockConfig:
    """A `MockConfig` from `--config` (JSON) with the command-line flags applied on top."""
    data: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    for key, value in (("latency_s", args.latency), ("tokens_per_s", args.tokens_per_s),
                       ("seed", args.seed), ("timeout_hold_s", args.timeout_hold),
                       ("port", args.port)):  # fmt: skip
        if value is not None:
            data[key] = value
    if args.no_record_messages:
        data["record_messages"] = False
    if args.faults:
        data["faults"] = FaultRates.parse(args.faults).model_dump()
    default: dict[str, Any] = dict(data.get("default") or {})
    if args.reply:
        default["mode"] = args.reply
    if args.canned:
        default["canned"] = args.canned
    if args.responder:
        default["responder"] = args.responder
    if default:
        data["default"] = default
    models: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (data.get("models") or {}).items()}
    for name, mode in _pairs(args.model, "--model"):
        models.setdefault(name, {})["mode"] = mode
    for name, text in _pairs(args.model_canned, "--model-canned"):
        models.setdefault(name, {}).setdefault("canned", []).append(text)
    for name, spec in _pairs(args.model_responder, "--model-responder"):
        models.setdefault(name, {})["responder"] = spec
    for name, rates in _pairs(args.model_faults, "--model-faults"):
        models.setdefault(name, {})["faults"] = FaultRates.parse(rates).model_dump()
    for name, latency in _pairs(args.model_latency, "--model-latency"):
        models.setdefault(name, {})["latency_s"] = float(latency)
    data["models"] = models
    return MockConfig.model_validate(data)


def parser() -> argparse.ArgumentParser:
    """The command line of `python -m bench.mock_server`."""
    p = argparse.ArgumentParser(
        prog="python -m bench.mock_server",
        description="Mock OpenAI-compatible chat server on 127.0.0.1. Prints one JSON line "
        '({"port", "base_url", "pid"}) when it listens; stops on SIGTERM or SIGINT.',
    )
    p.add_argument("--port", type=int, help="port (default 0: a free one)")
    p.add_argument("--latency", type=float, help="fixed delay per request, seconds")
    p.add_argument("--tokens-per-s", type=float, help="extra delay: completion tokens / rate")
    p.add_argument("--seed", type=int, help="fault RNG seed (default 0)")
    p.add_argument("--timeout-hold", type=float, help="how long a timeout fault holds, seconds")
    p.add_argument("--config", help="a JSON file holding a MockConfig; flags override it")
    p.add_argument("--reply", choices=["echo", "canned", "responder"], help="default reply mode")
    p.add_argument("--canned", action="append", default=[], help="default canned reply (repeat)")
    p.add_argument("--responder", help="default responder, package.module:function")
    p.add_argument("--faults", help="fault rates of every model: 5xx=0.1,timeout=0.05,...")
    p.add_argument("--model", action="append", default=[], help="NAME=echo|canned|responder")
    p.add_argument("--model-canned", action="append", default=[], help="NAME=TEXT (repeat)")
    p.add_argument("--model-responder", action="append", default=[], help="NAME=module:function")
    p.add_argument("--model-faults", action="append", default=[], help="NAME=5xx=0.1,dropped=0.02")
    p.add_argument("--model-latency", action="append", default=[], help="NAME=SECONDS")
    p.add_argument("--no-record-messages", action="store_true",
                   help="keep counters but not each request's messages")  # fmt: skip
    return p


async def _main_async(config: MockConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serving(MockBackend(config), config.port) as port:
        line = {"port": port, "base_url": f"http://{HOST}:{port}/v1", "pid": os.getpid()}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the server in the foreground until SIGTERM or SIGINT."""
    args = parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, OSError, ImportError, AttributeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    asyncio.run(_main_async(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
