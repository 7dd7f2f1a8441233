"""The OpenAI-compatible invoker against llmock (PyPI), a real server none of us wrote."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters.openai_invoker import OpenAIInvoker
from actorserve.domain import ErrorCode, ModelRequest, ModelType, ModelVersion
from tests.fakes import make_version

pytestmark = pytest.mark.integration

SECRET = "sk-test-0123456789abcdef-never-print-me"


def chat_version(url: str, vid: str = "chat-a", **parameters: Any) -> ModelVersion:
    return make_version(
        vid,
        "chat",
        framework="openai",
        endpoint=f"{url}/v1",
        parameters={"model": "gpt-4o-mini", **parameters},
        timeout_ms=5000,
    )


def scenario(url: str, *behaviors: dict[str, object]) -> None:
    httpx.post(f"{url}/_llmock/reset", timeout=5).raise_for_status()
    if behaviors:
        httpx.post(f"{url}/_llmock/scenario", json={"behaviors": list(behaviors)}, timeout=5).raise_for_status()


def seen(url: str) -> int:
    body = httpx.get(f"{url}/_llmock/requests", timeout=5).json()
    items = body if isinstance(body, list) else body.get("requests", [])
    return len([r for r in items if "/_llmock" not in str(r.get("path", ""))])


@pytest.fixture
def invoker() -> Iterator[OpenAIInvoker]:
    inv = OpenAIInvoker()
    yield inv
    inv.close()


def test_chat_answers_with_tokens_and_cost(llmock: str) -> None:
    scenario(llmock)
    prices: dict[str, Any] = {"price_per_1k_input_tokens": 1.0, "price_per_1k_output_tokens": 2.0}
    with ServingRuntime() as rt:
        rt.register(chat_version(llmock, **prices))
        assert rt.wait_ready("chat-a", timeout=30)
        response = rt.serve("chat", {"prompt": "hello there"})
        assert response.success, response.error
        assert "hello there" in response.output_data["text"]  # type: ignore[index]
        assert response.output_data["finish_reason"] == "stop"  # type: ignore[index]
        assert response.tokens_used > 0
        assert response.cost_usd > 0
        turns = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
        messages: dict[str, object] = {"messages": turns}
        assert rt.serve("chat", messages).success
        metrics = rt.get_metrics("chat-a")
        assert metrics is not None
        assert metrics.tokens_processed > response.tokens_used
        assert metrics.cost_usd > response.cost_usd


def test_embeddings_of_a_batch_are_one_call(llmock: str, invoker: OpenAIInvoker) -> None:
    scenario(llmock)
    v = make_version(
        "emb",
        "embed",
        model_type=ModelType.EMBEDDING_MODEL,
        framework="openai",
        endpoint=f"{llmock}/v1",
        parameters={"model": "text-embedding-3-small"},
    )
    handle = invoker.load(v)
    before = seen(llmock)
    requests = [
        ModelRequest("a", "embed", "emb", {"input": "one"}),
        ModelRequest("b", "embed", "emb", {"input": ["two", "three"]}),
    ]
    results = invoker.invoke_batch(handle, requests, 5.0)
    assert seen(llmock) == before + 1
    assert len(results[0].output["embeddings"]) == 1  # type: ignore[index]
    assert len(results[1].output["embeddings"]) == 2  # type: ignore[index]
    assert len(results[1].output["embeddings"][0]) > 8  # type: ignore[index]


@pytest.mark.parametrize(
    ("behavior", "code"),
    [
        ({"type": "fail", "status": 500, "times": 1}, ErrorCode.MODEL_ERROR),
        ({"type": "fail", "status": 429, "retry_after": 1, "times": 1}, ErrorCode.OVERLOADED),
        ({"type": "fail", "status": 503, "times": 1}, ErrorCode.OVERLOADED),
        ({"type": "fail", "status": 400, "times": 1}, ErrorCode.INVALID_INPUT),
        ({"type": "delay", "seconds": 3, "times": 1}, ErrorCode.TIMEOUT),
    ],
)
def test_scripted_faults_become_error_codes_without_retries(
    llmock: str, invoker: OpenAIInvoker, behavior: dict[str, object], code: ErrorCode
) -> None:
    handle = invoker.load(chat_version(llmock))
    scenario(llmock, behavior)
    result = invoker.invoke(handle, ModelRequest("r", "chat", "chat-a", {"prompt": "hi"}), 0.5)
    assert result.error_code is code, result.error
    if code is not ErrorCode.TIMEOUT:  # llmock records a delayed request only once it has answered
        assert seen(llmock) == 1  # max_retries=0: the runtime owns retries
    assert invoker.invoke(handle, ModelRequest("r", "chat", "chat-a", {"prompt": "hi"}), 5.0).ok


def test_bad_chat_input_is_refused_before_sending(llmock: str, invoker: OpenAIInvoker) -> None:
    handle = invoker.load(chat_version(llmock))
    scenario(llmock)
    cases: list[tuple[dict[str, object], str]] = [
        ({}, "needs messages"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"x": 1}]}, "messages[0]"),
    ]
    for data, needle in cases:
        result = invoker.invoke(handle, ModelRequest("r", "chat", "chat-a", data), 1.0)
        assert result.error_code is ErrorCode.INVALID_INPUT
        assert needle in (result.error or "")
    assert seen(llmock) == 0


def test_injected_errors_and_latency_become_answers_never_exceptions(chaotic_llmock: str) -> None:
    with ServingRuntime() as rt:
        rt.register(chat_version(chaotic_llmock, "chat-chaos"))
        assert rt.wait_ready("chat-chaos", timeout=30)
        responses = []
        lock = threading.Lock()

        def client() -> None:
            for i in range(50):
                r = rt.serve("chat", {"prompt": f"question {i}"})
                with lock:
                    responses.append(r)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(responses) == 200
        codes = [r.error_code for r in responses]
        assert set(codes) <= {None, ErrorCode.MODEL_ERROR, ErrorCode.OVERLOADED}
        assert 10 <= codes.count(ErrorCode.MODEL_ERROR) <= 70
        assert 10 <= codes.count(ErrorCode.OVERLOADED) <= 70
        assert codes.count(None) >= 60
        metrics = rt.get_metrics("chat-chaos")
        assert metrics is not None
        assert metrics.total_requests == 200
        assert metrics.errors_by_code.get(ErrorCode.OVERLOADED.value, 0) == codes.count(ErrorCode.OVERLOADED)


def test_api_keys_never_reach_logs_errors_or_metrics(
    llmock: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ACTORSERVE_TEST_KEY", SECRET)
    scenario(llmock, {"type": "fail", "status": 401, "times": 2})
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), ServingRuntime() as rt:
        rt.register(chat_version(llmock, "chat-key", api_key_env="ACTORSERVE_TEST_KEY"))
        assert rt.wait_ready("chat-key", timeout=30)
        for _ in range(3):
            r = rt.serve("chat", {"prompt": "hi"})
            texts.append(repr(r))
        texts.append(repr(rt.get_metrics("chat-key")))
        texts.append(repr(rt.health()))
        texts.append(repr(rt.get_version("chat-key")))
    texts.append(caplog.text)
    texts.extend(repr(r.__dict__) for r in caplog.records)
    assert any("401" in t for t in texts)
    assert not [t for t in texts if SECRET in t]
