from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorserve.domain import LifecycleError, LifecycleEvent, ModelStatus, transition
from actorserve.domain.lifecycle import ROUTABLE, allowed_events, phase_of

S, E = ModelStatus, LifecycleEvent


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (S.LOADING, E.LOADED, S.READY),
        (S.LOADING, E.LOAD_FAILED, S.FAILED),
        (S.LOADING, E.DRAIN, S.DRAINING),
        (S.READY, E.DRAIN, S.DRAINING),
        (S.READY, E.CRASHED, S.FAILED),
        (S.DRAINING, E.DRAINED, S.STOPPED),
        (S.FAILED, E.RESTART, S.LOADING),
        (S.FAILED, E.DRAIN, S.STOPPED),
    ],
)
def test_allowed_transitions_follow_the_table(state: ModelStatus, event: LifecycleEvent, expected: ModelStatus) -> None:
    assert transition(state, event).status is expected


@pytest.mark.parametrize("status", list(S))
def test_each_phase_says_whether_it_accepts_and_dispatches(status: ModelStatus) -> None:
    phase = phase_of(status)
    assert phase.status is status
    assert phase.accepting == (status in ROUTABLE)
    assert phase.dispatching == (status in ROUTABLE or status is S.DRAINING)


def test_the_module_diagram_lists_exactly_the_table() -> None:
    import re

    from actorserve.domain import lifecycle

    doc = lifecycle.__doc__ or ""
    drawn = {(S[a], E(e), S[b]) for a, e, b in re.findall(r"^([A-Z]+)\s+--([a-z_]+)-->\s+([A-Z]+)$", doc, re.MULTILINE)}
    table = {(state, event, target) for (state, event), target in lifecycle._TABLE.items()}
    assert drawn == table


def test_a_disallowed_event_names_the_state_and_the_allowed_events() -> None:
    with pytest.raises(LifecycleError, match="'loaded' is not allowed in state 'ready'") as info:
        transition(S.READY, E.LOADED)
    assert info.value.state == "ready"
    assert "drain" in str(info.value)


def test_stopped_is_terminal() -> None:
    assert allowed_events(S.STOPPED) == []


def test_only_ready_and_serving_are_routable() -> None:
    assert {S.READY, S.SERVING} == ROUTABLE


@given(st.lists(st.sampled_from(list(E)), max_size=30))
def test_any_event_sequence_either_moves_by_the_table_or_raises(events: list[LifecycleEvent]) -> None:
    state = S.LOADING
    for event in events:
        try:
            new = transition(state, event).status
        except LifecycleError:
            continue
        assert event in allowed_events(state)
        state = new
    assert isinstance(state, ModelStatus)
