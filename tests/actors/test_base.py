"""ServingActor's one dispatcher: a handler table built per class from @handles."""

from __future__ import annotations

import pytest

from actorserve.actors.base import ServingActor, UnexpectedMessageError, handles


class Ping:
    pass


class Pong:
    pass


class Parent(ServingActor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    @handles(Ping)
    def _on_ping(self, _: Ping) -> None:
        self.seen.append("parent ping")

    @handles(Pong)
    def _on_pong(self, _: Pong) -> None:
        self.seen.append("parent pong")


class Child(Parent):
    def _on_ping(self, _: Ping) -> None:  # an override without the decorator is still the one called
        self.seen.append("child ping")


def test_each_message_type_reaches_its_handler_and_overrides_win() -> None:
    child = Child()
    child.on_receive(Ping())
    child.on_receive(Pong())
    assert child.seen == ["child ping", "parent pong"]
    parent = Parent()
    parent.on_receive(Ping())
    assert parent.seen == ["parent ping"]


def test_a_message_without_a_handler_is_a_bug_named_in_the_error() -> None:
    with pytest.raises(UnexpectedMessageError, match="Child cannot handle str"):
        Child().on_receive("hello")
