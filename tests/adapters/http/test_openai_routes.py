"""The official `openai` client against the front's `/v1` routes."""

from __future__ import annotations

import threading
from collections.abc import Callable

import openai
import pytest

from actorserve.adapters.simulated import SimulatedInvoker
from actorserve.domain import ModelType
from tests.adapters.http.conftest import Served
from tests.fakes import FakeInvoker, eventually, make_version


def client(served: Served, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0, timeout=10)


@pytest.fixture
def llm(serve: Callable[..., Served]) -> Served:
    served = serve(SimulatedInvoker())
    served.add(
        make_version("chat-1", "chat"),
        make_version("chat-2", "chat", number="2.0.0"),
        make_version("emb-1", "emb", model_type=ModelType.EMBEDDING_MODEL),
    )
    return served


def test_chat_completion_answers_with_the_model_echoed_and_usage(llm: Served) -> None:
    with client(llm) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="chat", messages=[{"role": "user", "content": "hello there"}]
        )
    answer = raw.parse()
    assert answer.model == "chat"
    assert answer.choices[0].message.content == "Generated response for: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.total_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert raw.headers["x-actorserve-version"] in ("chat-1", "chat-2")


def test_a_model_at_version_pin_is_answered_by_that_version(llm: Served) -> None:
    with client(llm) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="chat@chat-1", messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.headers["x-actorserve-version"] == "chat-1"
    assert raw.parse().model == "chat@chat-1"


def test_completions_answer_one_choice_per_prompt(llm: Served) -> None:
    with client(llm) as c:
        answer = c.completions.create(model="chat", prompt=["one", "two"])
    assert [ch.text for ch in answer.choices] == ["Generated response for: one", "Generated response for: two"]
    assert [ch.index for ch in answer.choices] == [0, 1]


def test_embeddings_answer_one_vector_per_input(llm: Served) -> None:
    with client(llm) as c:
        answer = c.embeddings.create(model="emb", input=["a", "b", "c"])
    assert [d.index for d in answer.data] == [0, 1, 2]
    assert all(len(d.embedding) == 8 for d in answer.data)
    assert answer.data[0].embedding != answer.data[1].embedding
    single = llm.runtime.serve("emb", {"input": "a"})
    assert answer.data[0].embedding == pytest.approx(single.output_data["embedding"])  # type: ignore[index]


def test_models_lists_models_and_running_experiments(llm: Served) -> None:
    ab = llm.runtime.experiments.start_ab_test(["chat-1", "chat-2"], [50, 50], test_id="chat-ab")
    with client(llm) as c:
        ids = [m.id for m in c.models.list()]
    assert ids == ["chat", "emb", ab]


def test_an_experiment_id_serves_through_the_experiment_and_says_which_version_answered(llm: Served) -> None:
    ab = llm.runtime.experiments.start_ab_test(["chat-1", "chat-2"], [0, 100], test_id="chat-ab")
    with client(llm) as c:
        raw = c.chat.completions.with_raw_response.create(model=ab, messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-actorserve-version"] == "chat-2"
    report = llm.runtime.experiments.report(ab)
    assert report is not None


def test_the_user_field_is_the_sticky_key(llm: Served) -> None:
    with client(llm) as c:
        seen = {
            c.chat.completions.with_raw_response.create(
                model="chat", messages=[{"role": "user", "content": "hi"}], user="user-7"
            ).headers["x-actorserve-version"]
            for _ in range(8)
        }
    assert len(seen) == 1


def test_unknown_model_is_not_found_error(llm: Served) -> None:
    with client(llm) as c, pytest.raises(openai.NotFoundError) as caught:
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404
    assert "nope" in caught.value.message


def test_streaming_is_refused_with_a_400_that_says_not_yet(llm: Served) -> None:
    with client(llm) as c, pytest.raises(openai.BadRequestError) as caught:
        c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "streaming is not supported yet" in caught.value.message


def test_a_schema_error_is_422_naming_the_field(llm: Served) -> None:
    with client(llm) as c, pytest.raises(openai.UnprocessableEntityError) as caught:
        c.chat.completions.create(model="chat", messages=[])
    assert "messages: must be a non-empty list" in caught.value.message
    assert caught.value.param == "messages"


def test_a_missing_or_wrong_key_is_authentication_error(serve: Callable[..., Served]) -> None:
    served = serve(SimulatedInvoker(), api_keys=["s3cret"])
    served.add(make_version("chat-1", "chat"))
    with client(served, "wrong") as c, pytest.raises(openai.AuthenticationError) as caught:
        c.models.list()
    assert caught.value.status_code == 401
    assert "s3cret" not in caught.value.message
    with client(served, "s3cret") as c:
        assert [m.id for m in c.models.list()] == ["chat"]


def test_an_overloaded_version_is_rate_limit_error(serve: Callable[..., Served]) -> None:
    gate = threading.Event()
    inv = FakeInvoker(gate=gate)
    served = serve(inv)
    served.add(make_version("chat-1", "chat", max_queue=1, max_concurrency=1))
    held: list[object] = []
    with client(served) as c:
        callers = [
            threading.Thread(
                target=lambda: held.append(
                    c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}])
                )
            )
            for _ in range(2)
        ]
        try:
            for t in callers:
                t.start()
            assert inv.started.acquire(timeout=5)  # one at the worker
            assert eventually(lambda: served.runtime.get_metrics("chat-1").queue_depth == 1)  # type: ignore[union-attr]
            with pytest.raises(openai.RateLimitError) as caught:
                c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}])
            assert caught.value.response.headers["retry-after"] == "1"
        finally:
            gate.set()
            for t in callers:
                t.join(10)
    assert len(held) == 2
