"""The "grads known None" facts (analysis/grads.py): the join of paths is a lower bound
in set order (what every path knows), commutative and idempotent; zeroing a module covers
its submodules; building one covers only its own parameters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gradguard.analysis import grads
from gradguard.analysis.values import Storage

POOL = [Storage() for _ in range(4)]
states = st.frozensets(st.sampled_from(POOL))


@given(states, states)
def test_join_knows_only_what_both_paths_know(a: grads.GradsNone, b: grads.GradsNone) -> None:
    joined = grads.join([a, b])
    assert grads.leq(a, joined) and grads.leq(b, joined)
    assert joined == grads.join([b, a])


@given(states)
def test_join_is_idempotent(a: grads.GradsNone) -> None:
    assert grads.join([a, a]) == a
    assert grads.join([a]) == a


def test_no_path_knows_nothing() -> None:
    assert grads.join([]) == grads.NOTHING_KNOWN


def test_zero_grad_reaches_submodules_and_building_does_not() -> None:
    head, body = Storage(), Storage()
    model = Storage(parts=[head, body])
    assert grads.zeroed(grads.NOTHING_KNOWN, model) == {model, head, body}
    assert grads.built(grads.NOTHING_KNOWN, model) == {model}
