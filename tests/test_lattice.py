"""The value lattice's laws (analysis/values.py): the join is an upper bound of both
inputs, commutative and idempotent; a decided constant never joins into a wrong constant;
structure (items, elements, attributes) is kept where both sides agree, and one instance
seen on both paths stays one object."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradguard.analysis.values import (
    NOCONST,
    UNKNOWN,
    EnumMember,
    SaveRecord,
    Storage,
    Tri,
    Value,
    _container,
    _merge_envs,
    const_value,
    constant,
    is_unknown,
    join,
    leq,
    truth,
    unknown,
)
from gradguard.model import Range

ORIGIN_RANGE = Range.of(0, 0, 0, 1)


def _storage_pool() -> list[Storage]:
    from gradguard.analysis.values import Origin

    pool = []
    for i in range(3):
        rec = SaveRecord(f"op{i}", Origin(ORIGIN_RANGE, f"op{i}"), certain=bool(i % 2))
        pool.append(Storage(saves=[rec]))
    pool.append(Storage())
    return pool


STORAGES = _storage_pool()
SHARED_ATTRS: dict[str, Value] = {"fc": Value(tensor=Tri.NO, requires_grad=Tri.NO)}

tris = st.sampled_from(list(Tri))
consts = st.sampled_from(
    [NOCONST, True, False, None, 0, 1, 2, "relu", "gelu", EnumMember("Mode", "A")]
)


def _values(children: st.SearchStrategy[Value]) -> st.SearchStrategy[Value]:
    return st.builds(
        Value,
        tensor=tris,
        requires_grad=tris,
        leaf=tris,
        view=tris,
        parameter=st.booleans(),
        storage=st.one_of(st.none(), st.sampled_from(STORAGES)),
        graph=st.frozensets(st.integers(1, 4), max_size=3),
        const=consts,
        user_class=st.sampled_from([None, "Block", "Head"]),
        torch_path=st.sampled_from([None, "torch", "torch.nn"]),
        items=st.one_of(st.none(), st.lists(children, max_size=3).map(tuple)),
        element=st.one_of(st.none(), children),
        attrs=st.one_of(
            st.none(),
            st.just(SHARED_ATTRS),
            st.dictionaries(st.sampled_from(["fc", "act", "norm"]), children, max_size=2),
        ),
    )


values = st.recursive(_values(st.just(UNKNOWN)), _values, max_leaves=6)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(a: Value, b: Value) -> bool:
    return leq(a, b) and leq(b, a)


@SETTINGS
@given(values, values)
def test_join_is_an_upper_bound(a: Value, b: Value) -> None:
    j = join(a, b)
    assert leq(a, j)
    assert leq(b, j)


@SETTINGS
@given(values, values)
def test_join_is_commutative(a: Value, b: Value) -> None:
    assert same(join(a, b), join(b, a))


@SETTINGS
@given(values)
def test_join_is_idempotent(a: Value) -> None:
    assert join(a, a) is a
    assert leq(a, a)


@SETTINGS
@given(values, values, values)
def test_join_is_associative_up_to_order(a: Value, b: Value, c: Value) -> None:
    left, right = join(join(a, b), c), join(a, join(b, c))
    for v in (a, b, c):
        assert leq(v, left) and leq(v, right)


@SETTINGS
@given(consts, consts)
def test_a_constant_never_joins_into_a_wrong_constant(x: object, y: object) -> None:
    j = constant(join(const_value(x), const_value(y)))
    if j is not NOCONST:
        assert type(j) is type(x) and j == x
        assert type(j) is type(y) and j == y


def test_true_and_false_join_to_unknown_truth() -> None:
    j = join(const_value(True), const_value(False))
    assert constant(j) is NOCONST
    assert truth(j) is Tri.MAYBE
    assert constant(join(const_value(True), const_value(1))) is NOCONST  # True is not 1
    assert constant(join(const_value("relu"), const_value("relu"))) == "relu"


def test_truth_of_constants() -> None:
    assert truth(const_value(None)) is Tri.NO
    assert truth(const_value(0)) is Tri.NO
    assert truth(const_value("")) is Tri.NO
    assert truth(const_value("relu")) is Tri.YES
    assert truth(const_value(EnumMember("Mode", "A"))) is Tri.YES
    assert truth(UNKNOWN) is Tri.MAYBE


def test_tuples_join_item_by_item() -> None:
    t1 = Value(tensor=Tri.YES, requires_grad=Tri.YES, storage=Storage())
    t2 = Value(tensor=Tri.YES, requires_grad=Tri.YES, storage=Storage())
    n = const_value(3)
    j = join(_container((t1, n)), _container((t2, n)))
    assert j.items is not None and len(j.items) == 2
    assert j.items[0].requires_grad is Tri.YES and j.items[0].tensor is Tri.YES
    assert constant(j.items[1]) == 3
    # different lengths: members' join is still what iterating yields
    k = join(_container((t1,)), _container((t1, t2)))
    assert k.items is None and k.element is not None and k.element.tensor is Tri.YES


def test_an_empty_list_adds_no_element() -> None:
    t = Value(tensor=Tri.YES, requires_grad=Tri.YES, leaf=Tri.YES, storage=Storage())
    j = join(_container(()), _container((t,)))
    assert j.element is t


def test_instances_of_one_class_join_attribute_by_attribute() -> None:
    fc1 = Value(tensor=Tri.NO, requires_grad=Tri.NO, const="a")
    fc2 = Value(tensor=Tri.NO, requires_grad=Tri.NO, const="a")
    a = Value(tensor=Tri.NO, requires_grad=Tri.NO, user_class="Block", attrs={"fc": fc1})
    b = Value(tensor=Tri.NO, requires_grad=Tri.NO, user_class="Block", attrs={"fc": fc2})
    j = join(a, b)
    assert j.attrs is not None and constant(j.attrs["fc"]) == "a"
    # another class: no attributes known
    c = Value(tensor=Tri.NO, requires_grad=Tri.NO, user_class="Head", attrs={"fc": fc1})
    assert join(a, c).attrs is None


def test_one_instance_on_both_paths_stays_one_object() -> None:
    inst = Value(tensor=Tri.NO, requires_grad=Tri.NO, user_class="Block", attrs={})
    other = inst.evolve(const=NOCONST)  # the same instance's dict, another Value
    assert join(inst, inst) is inst
    assert join(inst, other).attrs is inst.attrs
    env = _merge_envs([{"a": inst, "b": inst}, {"a": other, "b": other}])
    assert env["a"] is env["b"]  # aliases stay aliases


def test_unknowns_have_their_own_identity() -> None:
    a, b = unknown(), unknown()
    assert a is not b
    assert is_unknown(a) and is_unknown(b) and is_unknown(UNKNOWN)
    assert not is_unknown(const_value(None))
