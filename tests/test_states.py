"""The state names: each spelled once, and the three kinds sharing a ledger column never clash."""

from __future__ import annotations

import json

from crosspost.core import errors
from crosspost.core.states import Act, Hold, Met, State, Status
from crosspost.scheduling import gate


def test_the_kinds_sharing_the_error_kind_column_never_clash() -> None:
    values = [m.value for enum in (Met, Hold, Act) for m in enum]
    assert len(values) == len(set(values))


def test_every_publish_error_kind_is_a_met() -> None:
    kinds = {
        cls.kind
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.PublishError)
    }
    assert kinds == set(Met)


def test_the_gate_answers_in_the_same_holds() -> None:
    assert gate.Hold is Hold


def test_states_are_stored_and_printed_as_their_plain_names() -> None:
    """Ledgers and JSON written before the enums read the same."""
    assert json.dumps({"s": State.IN_DOUBT, "o": Status.RETRY}) == '{"s": "in_doubt", "o": "retry"}'
    assert f"{State.PUBLISHED}" == "published" and State("held") is State.HELD
