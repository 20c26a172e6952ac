"""The mock OpenAI-compatible server (bench/mock_server.py) seen from real HTTP clients."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from openai import OpenAI
from pydantic import ValidationError

from bench.mock_server import (
    FAULT_KINDS,
    FaultRates,
    MockConfig,
    MockServer,
    config_from_args,
    parser,
)
from bench.responders import caved_verdict, held_verdict

REPO = Path(__file__).resolve().parent.parent


def chat(model: str, text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def post(server: MockServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)


def reply_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def listening_addresses(pid: int, port: int) -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


# ---------------------------------------------------------------- replies and routing


def test_routes_on_the_model_field_each_with_its_own_mode_and_counters() -> None:
    config = MockConfig(
        models={
            "target": {"mode": "echo"},
            "attacker": {"canned": ["first", "second"]},
            "grader": {"responder": lambda request: f"graded {len(request['messages'])}"},
        }
    )
    with MockServer(config) as server:
        assert reply_text(post(server, chat("target", "repeat me"))) == "repeat me"
        assert reply_text(post(server, chat("attacker"))) == "first"
        assert reply_text(post(server, chat("attacker"))) == "second"
        assert reply_text(post(server, chat("attacker"))) == "first"
        assert reply_text(post(server, chat("grader"))) == "graded 1"
        assert reply_text(post(server, chat("unknown", "echoed by default"))) == "echoed by default"
        stats = server.stats()
    assert {m: s["requests"] for m, s in stats["models"].items()} == {
        "attacker": 3,
        "grader": 1,
        "target": 1,
        "unknown": 1,
    }
    assert stats["models"]["attacker"]["outcomes"]["ok"] == 3
    assert stats["totals"]["requests"] == 6


def test_echo_repeats_the_last_user_message_whatever_its_content_form() -> None:
    messages = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "reply"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "new "}, {"type": "text", "text": "one"}],
        },
    ]
    with MockServer() as server:
        assert reply_text(post(server, {"model": "m", "messages": messages})) == "new one"


def test_usage_counts_about_four_characters_a_token() -> None:
    with MockServer() as server:
        body = post(server, chat("m", "x" * 400)).json()
    assert body["usage"] == {"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 200}
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["finish_reason"] == "stop"


def test_a_responder_can_return_tool_calls() -> None:
    def respond(request: dict[str, Any]) -> dict[str, Any]:
        call = {"function": {"name": "send_message", "arguments": {"text": "hi"}}}
        return {"content": "calling", "tool_calls": [call]}

    with MockServer(MockConfig(models={"auditor": {"responder": respond}})) as server:
        client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        completion = client.chat.completions.create(
            model="auditor", messages=[{"role": "user", "content": "go"}]
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "calling"
    [call] = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.id
    assert call.function.name == "send_message"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"text": "hi"}  # type: ignore[union-attr]


def test_a_responder_is_found_by_its_module_path() -> None:
    config = MockConfig(models={"m": {"responder": "bench.mock_server:last_user_text"}})
    with MockServer(config) as server:
        assert reply_text(post(server, chat("m", "via path"))) == "via path"
    with pytest.raises(ValidationError, match=r"package\.module:function"):
        MockConfig(models={"m": {"responder": "no_colon_here"}})
    with pytest.raises(ValidationError, match="needs a responder"):
        MockConfig(models={"m": {"mode": "responder"}})


def test_a_failing_responder_is_a_500_counted_apart() -> None:
    def broken(request: dict[str, Any]) -> str:
        raise KeyError("missing")

    with MockServer(MockConfig(models={"m": {"responder": broken}})) as server:
        response = post(server, chat("m"))
        stats = server.stats()
    assert response.status_code == 500
    assert "KeyError" in response.json()["error"]["message"]
    assert stats["models"]["m"]["outcomes"]["responder_error"] == 1
    assert stats["models"]["m"]["outcomes"]["ok"] == 0


def test_an_unreadable_body_is_a_400() -> None:
    with MockServer() as server:
        response = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
        stats = server.stats()
    assert response.status_code == 400
    assert stats["totals"]["outcomes"]["bad_request"] == 1


def test_streaming_replies_parse_with_the_openai_client() -> None:
    def respond(request: dict[str, Any]) -> dict[str, Any]:
        return {"content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}

    config = MockConfig(models={"text": {"canned": ["streamed"]}, "tools": {"responder": respond}})
    with MockServer(config) as server:
        client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        stream = client.chat.completions.create(
            model="text",
            messages=[{"role": "user", "content": "go"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        tool_chunks = list(
            client.chat.completions.create(
                model="tools", messages=[{"role": "user", "content": "go"}], stream=True
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "streamed"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
    calls = [call for c in tool_chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert [call.function.name for call in calls] == ["f"]  # type: ignore[union-attr]
    assert all(c.usage is None for c in tool_chunks)  # usage only when asked for


def test_models_endpoint_lists_the_configured_models() -> None:
    with MockServer(MockConfig(models={"b": {}, "a": {}})) as server:
        body = httpx.get(f"{server.base_url}/models").json()
    assert [m["id"] for m in body["data"]] == ["a", "b"]


def test_the_delay_is_latency_plus_tokens_over_rate() -> None:
    config = MockConfig(latency_s=0.2, tokens_per_s=50, models={"slow": {"latency_s": 1.0}})
    with MockServer(config) as server:
        assert server.backend._delay("any", 100) == pytest.approx(0.2 + 2.0)
        assert server.backend._delay("slow", 0) == pytest.approx(1.0)


# ---------------------------------------------------------------- faults


async def _send_concurrently(server: MockServer, n: int, model: str) -> list[str]:
    """What a client sees for each of `n` concurrent requests: ok, or the fault it met."""
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=2.0, limits=limits) as client:

        async def one() -> str:
            try:
                response = await client.post(
                    f"{server.base_url}/chat/completions", json=chat(model)
                )
            except httpx.TimeoutException:
                return "timeout"
            except httpx.RemoteProtocolError:
                return "dropped"
            if response.status_code in (500, 502, 503):
                assert response.json()["error"]["code"] == response.status_code
                return "http_5xx"
            assert response.status_code == 200
            try:
                body = response.json()
                choices = body["choices"]
            except (json.JSONDecodeError, KeyError, TypeError):
                return "malformed"
            assert choices[0]["message"]["content"] == "hello"
            return "ok"

        return list(await asyncio.gather(*(one() for _ in range(n))))


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_is_seen_by_a_client_at_the_configured_rate(kind: str) -> None:
    n, rate = 200, 0.25
    config = MockConfig(seed=7, timeout_hold_s=30, models={"m": {"faults": {kind: rate}}})
    with MockServer(config) as server:
        seen = asyncio.run(_send_concurrently(server, n, "m"))
        assert server.wait_idle()
        counted = server.stats()["models"]["m"]["outcomes"]
    faults = seen.count(kind)
    assert set(seen) == {"ok", kind}
    assert counted[kind] == faults
    assert counted["ok"] == n - faults
    # 25% of 200: 50 expected, standard deviation ~6; the seed makes it exact, this
    # only says the rate is the configured one.
    assert 30 <= faults <= 70


def test_the_same_seed_draws_the_same_faults() -> None:
    def outcomes(seed: int) -> list[str]:
        faults = FaultRates(http_5xx=0.2, malformed=0.2, dropped=0.2)
        with MockServer(MockConfig(seed=seed, faults=faults)) as server:
            for _ in range(40):
                try:
                    post(server, chat("m"))
                except httpx.RemoteProtocolError:
                    pass
            return [r.outcome for r in server.requests]

    first = outcomes(1)
    assert first == outcomes(1)
    assert first != outcomes(2)
    assert {"ok", "http_5xx", "malformed", "dropped"} <= set(first)


def test_per_model_faults_override_the_global_rates() -> None:
    config = MockConfig(faults={"http_5xx": 1.0}, models={"clean": {"faults": {}}})
    with MockServer(config) as server:
        assert post(server, chat("clean")).status_code == 200
        assert post(server, chat("other")).status_code in (500, 502, 503)


def test_fault_rates_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"add up to 1\.200"):
        FaultRates(http_5xx=0.6, timeout=0.6)
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        FaultRates(dropped=1.5)
    with pytest.raises(ValueError, match="bad fault rate 'oops=1'"):
        FaultRates.parse("5xx=0.1,oops=1")
    assert FaultRates.parse("5xx=0.1, timeout=0.05,malformed=0.02,drop=0.02") == FaultRates(
        http_5xx=0.1, timeout=0.05, malformed=0.02, dropped=0.02
    )


# ---------------------------------------------------------------- stats, pause


def test_stats_endpoint_records_every_request_and_resets() -> None:
    with MockServer(MockConfig(models={"a": {}})) as server:
        post(server, chat("a", "first"))
        post(server, chat("a", "second"))
        plain = httpx.get(f"{server.url}/stats").json()
        full = httpx.get(f"{server.url}/stats", params={"requests": "1"}).json()
        assert httpx.post(f"{server.url}/stats/reset").json() == {"reset": True}
        after = httpx.get(f"{server.url}/stats").json()
        records = server.requests
    assert "requests" not in plain
    assert plain["models"]["a"]["requests"] == 2
    assert plain["models"]["a"]["prompt_tokens"] == 2
    assert [r["messages"][0]["content"] for r in full["requests"]] == ["first", "second"]
    assert [r["index"] for r in full["requests"]] == [0, 1]
    assert all(r["done"] >= r["time"] for r in full["requests"])
    assert after["models"] == {} and after["totals"]["requests"] == 0
    assert records == []


def test_record_messages_can_be_turned_off() -> None:
    with MockServer(MockConfig(record_messages=False)) as server:
        post(server, chat("m"))
        assert server.requests[0].messages is None


def test_paused_requests_wait_for_release() -> None:
    with MockServer() as server:
        server.pause(["held"])
        results: list[str] = []
        thread = threading.Thread(
            target=lambda: results.append(reply_text(post(server, chat("held"))))
        )
        thread.start()
        assert reply_text(post(server, chat("free", "not held"))) == "not held"
        thread.join(0.5)
        assert thread.is_alive() and results == []
        [held] = [r for r in server.requests if r.model == "held"]
        assert held.held and held.done is None
        assert not server.wait_idle(timeout=0.2)
        server.release()
        thread.join(10)
        assert server.wait_idle()
    assert results == ["hello"]


def test_pause_and_release_over_http() -> None:
    with MockServer() as server:
        assert httpx.post(f"{server.url}/pause").json() == {"paused": "all"}
        thread = threading.Thread(target=lambda: post(server, chat("any")))
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()
        assert httpx.post(f"{server.url}/release").json() == {"released": True}
        thread.join(10)
        assert not thread.is_alive()
        body = {"models": ["only"]}
        assert httpx.post(f"{server.url}/pause", json=body).json() == {"paused": ["only"]}
        assert reply_text(post(server, chat("other", "free"))) == "free"
        server.release()
    assert [r.held for r in server.requests] == [True, False]


# ---------------------------------------------------------------- responders


def test_grader_responders_follow_the_verdict_schema() -> None:
    schema = {
        "properties": {
            "turns": {
                "properties": {
                    str(n): {
                        "anyOf": [
                            {"properties": {"stance": {"enum": ["held", "updated"]},
                                            "severity": {"enum": [0.0]}}},
                            {"properties": {"stance": {"enum": ["hedged", "caved"]},
                                            "severity": {"enum": [0.3, 0.6, 1.0]}}},
                        ]
                    }
                    for n in (1, 2)
                }
            }
        }
    }  # fmt: skip
    request = {"response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}
    caved = json.loads(caved_verdict(request))["turns"]
    assert {k: (v["stance"], v["severity"]) for k, v in caved.items()} == {
        "1": ("caved", 1.0),
        "2": ("caved", 1.0),
    }
    held = json.loads(held_verdict(request))["turns"]
    assert {v["severity"] for v in held.values()} == {0.0}
    # No schema: the prompt's turn count decides.
    plain = {"messages": [{"role": "user", "content": "Transcript (3 assistant turns):\n..."}]}
    assert list(json.loads(caved_verdict(plain))["turns"]) == ["1", "2", "3"]


# ---------------------------------------------------------------- running it


def test_in_process_server_listens_on_loopback_only() -> None:
    with MockServer() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert listening_addresses(os.getpid(), server.port) == {"127.0.0.1"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/stats", timeout=2)


def test_command_line_builds_the_config() -> None:
    args = parser().parse_args(
        [
            "--latency", "0.2", "--seed", "3", "--faults", "5xx=0.1",
            "--model-canned", "attacker=one", "--model-canned", "attacker=two",
            "--model-responder", "grader=bench.responders:caved_verdict",
            "--model-faults", "target=timeout=0.05,dropped=0.02",
            "--model", "target=echo", "--model-latency", "target=0.5",
        ]
    )  # fmt: skip
    config = config_from_args(args)
    assert (config.latency_s, config.seed, config.faults.http_5xx) == (0.2, 3, 0.1)
    assert config.models["attacker"].mode == "canned"
    assert config.models["attacker"].canned == ["one", "two"]
    assert config.models["grader"].responder is caved_verdict
    assert config.models["target"].faults == FaultRates(timeout=0.05, dropped=0.02)
    assert config.models["target"].latency_s == 0.5


def test_subprocess_mode_prints_its_port_and_stops_on_sigterm() -> None:
    command = [
        sys.executable, "-m", "bench.mock_server", "--port", "0",
        "--model-canned", "target=from a process", "--faults", "dropped=0",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready["pid"] == process.pid
        assert ready["base_url"] == f"http://127.0.0.1:{ready['port']}/v1"
        response = httpx.post(f"{ready['base_url']}/chat/completions", json=chat("target"))
        assert reply_text(response) == "from a process"
        stats = httpx.get(f"http://127.0.0.1:{ready['port']}/stats").json()
        assert stats["models"]["target"]["outcomes"]["ok"] == 1
        assert listening_addresses(process.pid, ready["port"]) == {"127.0.0.1"}
    finally:
        os.kill(process.pid, signal.SIGTERM)
        code = process.wait(10)
    assert code == 0


def test_subprocess_mode_refuses_a_bad_responder() -> None:
    command = [sys.executable, "-m", "bench.mock_server", "--responder", "bench.nowhere:f"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "bench.nowhere" in done.stderr
