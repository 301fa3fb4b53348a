"""The generated op table: fresh, and true to what PyTorch's autograd really does.

Every ``saves`` claim checked here is checked by running it: modify the tensor the table says is
(or is not) saved, in place, before ``backward()``, and see whether autograd raises
"... modified by an inplace operation".
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gradguard import optable as ot
from gradguard.optable import GRAD, NO_GRAD, NUMBER, OTHER, UNKNOWN

torch = pytest.importorskip("torch")
F = torch.nn.functional
ROOT = Path(__file__).resolve().parent.parent
MODIFIED = "modified by an inplace operation"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_optable", ROOT / "scripts" / "gen_optable.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_optable"] = mod
    spec.loader.exec_module(mod)
    return mod


GEN = _load_generator()


def raises_modified(fn: Callable[[], object]) -> bool:
    """True if running fn raises autograd's saved-tensor-modified error; other errors fail."""
    try:
        fn()
    except RuntimeError as exc:
        if MODIFIED in str(exc):
            return True
        raise
    return False


def breaks(write, out) -> bool:
    """Write ``write`` in place, then backpropagate from ``out``: does autograd object?"""
    return raises_modified(lambda: (write.add_(0), out.sum().backward()))


def grad_input(lo: float = 0.2, hi: float = 0.8, shape: tuple[int, ...] = (2, 3)):
    """A non-leaf tensor that requires grad (so in-place ops on it are legal)."""
    leaf = (torch.rand(shape) * (hi - lo) + lo).requires_grad_()
    return leaf * 1.0


# --------------------------------------------------------------------------------------------
# freshness
# --------------------------------------------------------------------------------------------


def test_committed_table_matches_regeneration(tmp_path: Path) -> None:
    committed = (ROOT / "server" / "gradguard" / "data" / "optable.json").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GEN.main(["-o", str(tmp_path / "optable.json")])
    fresh = (tmp_path / "optable.json").read_bytes()
    assert fresh == committed, "optable.json is stale: run scripts/gen_optable.py"
    assert GEN.PROBLEMS == [], GEN.PROBLEMS


def test_table_is_for_installed_torch() -> None:
    assert ot.torch_version() == torch.__version__.split("+")[0]


def test_loading_is_fast() -> None:
    best = float("inf")
    for _ in range(3):
        ot._table.cache_clear()
        ot._saves.cache_clear()
        t0 = time.perf_counter()
        ot.lookup("sigmoid")
        best = min(best, time.perf_counter() - t0)
    assert best < 0.05, f"loading the op table took {best * 1000:.1f} ms"


# --------------------------------------------------------------------------------------------
# names, twins, in-place methods
# --------------------------------------------------------------------------------------------


def test_lookup_spellings() -> None:
    assert ot.lookup("sigmoid") is ot.lookup("torch.sigmoid") is ot.lookup("Tensor.sigmoid")
    assert ot.lookup("linalg.norm") is ot.lookup("linalg_norm") is not None
    assert ot.lookup("no_such_op") is None
    assert ot.lookup("mul_").twin == "mul"
    assert ot.lookup("mul").inplace_variants == ("mul_",)


def test_inplace_methods_exist_on_tensor() -> None:
    inplace = [n for n in ot.op_names() if ot.is_inplace_method(n)]
    assert len(inplace) > 120
    for name in inplace:
        assert hasattr(torch.Tensor, name), name
    for name in (
        "add_",
        "copy_",
        "zero_",
        "index_put_",
        "masked_fill_",
        "scatter_",
        "clamp_",
        "__iadd__",
        "fill_",
        "t_",
        "map_",
    ):
        assert ot.is_inplace_method(name), name
    for name in ("requires_grad_", "share_memory_", "retain_grad", "detach_", "add", "sigmoid"):
        assert not ot.is_inplace_method(name), name


def test_twins_match_torch() -> None:
    for name in ot.op_names():
        op = ot.lookup(name)
        assert op is not None
        if not op.inplace_method or op.twin is None:
            continue
        assert op.twin_method == hasattr(torch.Tensor, op.twin), name
        assert op.twin_method or op.twin_function, name
    assert ot.functional_twin("add_") == "add"
    assert ot.functional_twin("zero_") is None  # no Tensor.zero / torch.zero
    assert ot.functional_twin("copy_") is None
    assert ot.functional_twin("__iadd__") == "add"  # Tensor.__iadd__ runs add_
    assert ot.functional_twin("__iand__") == "__and__"


@pytest.mark.parametrize(
    "name, call",
    [
        ("add_", lambda x: x.add_(1)),
        ("zero_", lambda x: x.zero_()),
        ("copy_", lambda x: x.copy_(torch.ones(3))),
        ("t_", lambda x: x.t_()),
        ("index_put_", lambda x: x.index_put_((torch.tensor([0]),), torch.tensor(1.0))),
        ("masked_fill_", lambda x: x.masked_fill_(torch.tensor([True, False, True]), 0.0)),
        ("scatter_", lambda x: x.scatter_(0, torch.tensor([0]), 2.0)),
        ("clamp_", lambda x: x.clamp_(0, 1)),
        ("unsqueeze_", lambda x: x.unsqueeze_(0)),
        ("__imul__", lambda x: x.__imul__(2)),
        ("requires_grad_", lambda x: x.requires_grad_()),
        ("detach_", lambda x: x.detach_()),
        ("retain_grad", lambda x: x.retain_grad()),
        ("share_memory_", lambda x: x.share_memory_()),
    ],
)
def test_is_inplace_method_matches_leaf_check(name: str, call) -> None:
    leaf = torch.rand(3, requires_grad=True)
    try:
        call(leaf)
        raised = False
    except RuntimeError as exc:
        assert "leaf Variable that requires grad" in str(exc)
        raised = True
    assert ot.is_inplace_method(name) == raised


def test_operators() -> None:
    assert ot.operator_op("+") == "add" and ot.augmented_op("+=") == "add_"
    assert ot.augmented_op("**=") == "pow_" and ot.augmented_op("/=") == "div_"
    assert ot.augmented_op("@=") is None
    a, b = torch.ones(2, 2), torch.ones(2, 2)
    a0 = a
    a @= b
    assert a is not a0  # Python rebinds: no in-place matmul
    assert ot.reflected_op("-") == "rsub" and ot.unary_op("-") == "neg"


# --------------------------------------------------------------------------------------------
# views, differentiability, out=
# --------------------------------------------------------------------------------------------


def test_views_match_torch() -> None:
    x = torch.rand(4, 6)
    for name, call in [
        ("view", lambda: x.view(-1)),
        ("t", lambda: x.t()),
        ("transpose", lambda: x.transpose(0, 1)),
        ("select", lambda: x.select(0, 1)),
        ("narrow", lambda: x.narrow(0, 0, 2)),
        ("unflatten", lambda: x.unflatten(1, (2, 3))),
        ("diagonal", lambda: x.diagonal()),
        ("expand", lambda: x[:1].expand(3, 6)),
        ("permute", lambda: x.permute(1, 0)),
        ("squeeze", lambda: x.squeeze()),
    ]:
        assert ot.is_view(name), name
        assert call()._base is not None, name
    for name, call in [
        ("exp", lambda: x.exp()),
        ("clone", lambda: x.clone()),
        ("sum", lambda: x.sum(0)),
    ]:
        assert not ot.is_view(name), name
        assert call()._base is None, name


@pytest.mark.parametrize(
    "name, call",
    [
        ("split", lambda x: x.split(2)),
        ("split", lambda x: x.split([1, 3])),
        ("chunk", lambda x: x.chunk(2)),
        ("unbind", lambda x: x.unbind()),
        ("split_with_sizes", lambda x: x.split_with_sizes([2, 2])),
        ("tensor_split", lambda x: x.tensor_split(2)),
        ("hsplit", lambda x: x.hsplit(2)),
        ("vsplit", lambda x: x.vsplit(2)),
        ("unsafe_chunk", lambda x: x.unsafe_chunk(2)),
    ],
)
def test_multi_views_match_torch(name: str, call) -> None:
    x = grad_input(shape=(4, 4))
    if ot.is_multi_view(name):
        with pytest.raises(RuntimeError, match="returns multiple views"):
            call(x)[0].mul_(2)
    else:
        # plain views (tensor_split & co. decompose into narrow) or copies: writable
        out = call(x)
        assert ot.is_view(name) == (out[0]._base is not None)
        out[0].mul_(2)
        x.sum().backward()
    assert ot.is_multi_view("split") and ot.is_multi_view("chunk") and ot.is_multi_view("unbind")


def test_non_differentiable_ops_match_torch() -> None:
    x = grad_input()
    for name, call in [
        ("eq", lambda: x == 0.5),
        ("argmax", lambda: x.argmax()),
        ("lt", lambda: x.lt(0.5)),
        ("sign", None),
        ("isnan", lambda: x.isnan()),
        ("detach", lambda: x.detach()),
        ("greater", lambda: x.greater(0.5)),
    ]:
        if call is None:
            assert ot.is_differentiable(name)
            continue
        assert ot.returns_no_grad(name) and not ot.is_differentiable(name), name
        assert not call().requires_grad, name
    assert ot.is_differentiable("sigmoid") and not ot.returns_no_grad("sigmoid")


def test_out_overloads() -> None:
    assert ot.has_out("add") and ot.has_out("sigmoid") and ot.has_out("mm")
    assert not ot.has_out("view")


# --------------------------------------------------------------------------------------------
# saves, checked against autograd
# --------------------------------------------------------------------------------------------

# Unary float ops: op name -> input range.
UNARY = {
    "abs": (0.2, 0.8),
    "acos": (0.2, 0.8),
    "asin": (0.2, 0.8),
    "atan": (0.2, 0.8),
    "cos": (0.2, 0.8),
    "cosh": (0.2, 0.8),
    "sin": (0.2, 0.8),
    "sinh": (0.2, 0.8),
    "tan": (0.2, 0.8),
    "tanh": (0.2, 0.8),
    "exp": (0.2, 0.8),
    "exp2": (0.2, 0.8),
    "expm1": (0.2, 0.8),
    "log": (0.2, 0.8),
    "log10": (0.2, 0.8),
    "log1p": (0.2, 0.8),
    "log2": (0.2, 0.8),
    "neg": (0.2, 0.8),
    "reciprocal": (0.2, 0.8),
    "rsqrt": (0.2, 0.8),
    "sigmoid": (0.2, 0.8),
    "sqrt": (0.2, 0.8),
    "square": (0.2, 0.8),
    "erf": (0.2, 0.8),
    "erfc": (0.2, 0.8),
    "erfinv": (0.2, 0.8),
    "floor": (0.2, 0.8),
    "ceil": (0.2, 0.8),
    "frac": (0.2, 0.8),
    "round": (0.2, 0.8),
    "trunc": (0.2, 0.8),
    "sign": (0.2, 0.8),
    "sgn": (0.2, 0.8),
    "relu": (-0.5, 0.5),
    "digamma": (0.2, 0.8),
    "lgamma": (0.2, 0.8),
    "i0": (0.2, 0.8),
    "sinc": (0.2, 0.8),
    "logit": (0.2, 0.8),
    "deg2rad": (0.2, 0.8),
    "rad2deg": (0.2, 0.8),
    "asinh": (0.2, 0.8),
    "atanh": (0.2, 0.8),
    "acosh": (1.5, 2.5),
    "nan_to_num": (0.2, 0.8),
    "arctan": (0.2, 0.8),
    "absolute": (0.2, 0.8),
    "negative": (0.2, 0.8),
    "fix": (0.2, 0.8),
    "cumsum": (0.2, 0.8),
}


def _unary_call(name: str, x):
    return getattr(x, name)(0) if name.startswith("cum") else getattr(x, name)()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_saves_match_autograd(name: str) -> None:
    lo, hi = UNARY[name]
    args = [GRAD, NUMBER] if name.startswith("cum") else [GRAD]
    s = ot.saves(name, args, method=True)
    assert s is not None and s.exact and s.records_grad, name

    x = grad_input(lo, hi)
    y = _unary_call(name, x)
    assert breaks(x, y) == (0 in s.args), name

    x = grad_input(lo, hi)
    y = _unary_call(name, x)
    assert breaks(y, y) == s.result, name

    op = ot.lookup(name)
    assert op is not None
    for inplace_name in op.inplace_variants:
        if ot.lookup(inplace_name).overloads[0].grad == "none":  # acosh_: not implemented
            assert ot.saves(inplace_name, args, method=True) is None
            x = grad_input(lo, hi)
            _unary_call(inplace_name, x)
            with pytest.raises(NotImplementedError):
                x.sum().backward()
            continue
        si = ot.saves(inplace_name, args, method=True)
        assert si is not None and si.exact and not si.args, inplace_name
        x = grad_input(lo, hi)
        _unary_call(inplace_name, x)
        assert breaks(x, x) == si.result, inplace_name


def test_brief_examples() -> None:
    # sigmoid / exp save their result: writing it breaks backward
    assert ot.saves("sigmoid", [GRAD], method=False).result
    x = grad_input()
    y = torch.sigmoid(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    assert ot.saves("exp", [GRAD], method=True).result
    # y = x * 2; y.add_(1) is fine: mul by a number saves nothing the user can touch
    s = ot.saves("mul", [GRAD, NUMBER], method=True)
    assert s.nothing and s.exact
    x = grad_input()
    y = x * 2
    y.add_(1)
    y.sum().backward()
    # y = x ** 2; y.relu_() is fine; pow saves self (writing x breaks)
    s = ot.saves("pow", [GRAD, NUMBER], method=True)
    assert s.op == "pow.Tensor_Scalar" and s.args == {0} and not s.result
    x = grad_input()
    y = x**2
    y.relu_()
    y.sum().backward()
    x = grad_input()
    y = x**2
    x.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_binary_saves_per_input() -> None:
    # mul.Tensor: other is saved iff self requires grad, and vice versa
    assert ot.saves("mul", [GRAD, NO_GRAD], method=False).args == {1}
    assert ot.saves("mul", [NO_GRAD, GRAD], method=False).args == {0}
    assert ot.saves("mul", [NO_GRAD, NO_GRAD], method=False).records_grad is False
    a, w = grad_input(), torch.rand(2, 3)
    y = a * w
    a.add_(0)  # a is not saved: only w (needed for a's grad)
    y.sum().backward()
    a, w = grad_input(), torch.rand(2, 3)
    y = a * w
    w.add_(0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    # div: other saved for self's grad; self only for other's grad
    assert ot.saves("div", [GRAD, NO_GRAD], method=False).args == {1}
    assert ot.saves("div", [NO_GRAD, GRAD], method=False).args == {0, 1}
    # in-place: a.mul_(w) saves w (a's original is cloned by autograd)
    s = ot.saves("mul_", [GRAD, NO_GRAD], method=True)
    assert s.args == {1} and not s.result
    # unknown argument kinds give possible (inexact) answers
    s = ot.saves("mul", [GRAD, UNKNOWN], method=True)
    assert not s.exact and 1 in s.args
    # keyword arguments: torch.mul(input=x, other=w)
    s = ot.saves("mul", [], method=False, kwargs={"input": GRAD, "other": NO_GRAD})
    assert s.kwargs == {"other"}


def test_composites_resolve_through_decomposition() -> None:
    s = ot.saves("softmax", [GRAD], method=False, kwargs={"dim": NUMBER})
    assert s.result and not s.args
    x = grad_input()
    y = torch.softmax(x, dim=1)
    y.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    # F.linear(x, W, b) with a plain input: only x is saved (for W's grad); W is saved only
    # when x requires grad (addmm's guarded saves)
    s = ot.saves("linear", [NO_GRAD, GRAD, GRAD], method=False)
    assert s.args == {0} and s.op == "linear"
    x, w = torch.rand(2, 4), torch.rand(3, 4, requires_grad=True)
    out = F.linear(x, w)
    assert not breaks(w.detach(), out)  # writing W (shares W's version counter) is fine
    out = F.linear(x, w)
    assert breaks(x, out)
    s = ot.saves("dropout", [GRAD, NUMBER, NUMBER], method=False)
    assert s.nothing
    s = ot.saves("layer_norm", [GRAD, OTHER], method=False)
    assert s.args == {0}
    assert ot.saves("divide", [GRAD, NO_GRAD], method=False).args == {1}


# --------------------------------------------------------------------------------------------
# nn modules and functionals
# --------------------------------------------------------------------------------------------

MODULE_INPUT_SHAPES = {
    "Linear": (2, 4),
    "Bilinear": None,
    "Conv1d": (1, 2, 5),
    "Conv2d": (1, 2, 4, 4),
    "Conv3d": (1, 2, 3, 3, 3),
    "ConvTranspose1d": (1, 2, 5),
    "ConvTranspose2d": (1, 2, 4, 4),
    "ConvTranspose3d": (1, 2, 3, 3, 3),
    "BatchNorm1d": (3, 2),
    "BatchNorm2d": (2, 2, 3, 3),
    "BatchNorm3d": (2, 2, 3, 3, 3),
    "LayerNorm": (2, 4),
    "GroupNorm": (2, 2, 3),
    "InstanceNorm1d": (2, 2, 5),
    "InstanceNorm2d": (2, 2, 3, 3),
    "InstanceNorm3d": (2, 2, 3, 3, 3),
    "RMSNorm": (2, 4),
    "PReLU": (2, 4),
    "RNNCell": (2, 4),
    "GRUCell": (2, 4),
    "MaxPool1d": (1, 2, 6),
    "MaxPool2d": (1, 2, 4, 4),
    "MaxPool3d": (1, 1, 4, 4, 4),
    "AvgPool1d": (1, 2, 6),
    "AvgPool2d": (1, 2, 4, 4),
    "AvgPool3d": (1, 1, 4, 4, 4),
    "AdaptiveAvgPool1d": (1, 2, 6),
    "AdaptiveAvgPool2d": (1, 2, 4, 4),
    "AdaptiveMaxPool2d": (1, 2, 4, 4),
    "Upsample": (1, 1, 3, 3),
    "ZeroPad2d": (1, 1, 3, 3),
    "ConstantPad2d": (1, 1, 3, 3),
    "ReflectionPad2d": (1, 1, 3, 3),
    "ReplicationPad2d": (1, 1, 3, 3),
    "PixelShuffle": (1, 1, 2, 2),
    "PixelUnshuffle": (1, 1, 2, 2),
    "Flatten": (2, 2, 2),
    "Unflatten": (2, 4),
    "Identity": (2, 4),
    "GLU": (2, 4),
    "Softmax2d": (1, 2, 2, 2),
    "Dropout2d": (1, 2, 3, 3),
    "Dropout3d": (1, 2, 2, 2, 2),
}
SKIPPED_MODULES = {  # covered elsewhere or multi-input forwards
    "Bilinear",
    "Embedding",
    "EmbeddingBag",
    "RNN",
    "LSTM",
    "GRU",
    "LSTMCell",
    "MultiheadAttention",
    "Transformer",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "MSELoss",
    "L1Loss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
}


def _module(name: str):
    spec = GEN.MODULES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = getattr(torch.nn, name)(*spec.ctor, **spec.kw)
    return m.train()


@pytest.mark.parametrize("name", sorted(set(GEN.MODULES) - SKIPPED_MODULES))
def test_module_saves_match_autograd(name: str) -> None:
    info = ot.module_info(name)
    assert info is not None and info is ot.module_info(f"torch.nn.{name}")
    shape = MODULE_INPUT_SHAPES.get(name, (2, 4))
    m = _module(name)
    assert info.has_parameters == any(p.requires_grad for p in m.parameters())

    def run(modify_input: bool) -> bool:
        x = grad_input(shape=shape)
        out = m(x)
        target = x if modify_input else out
        return breaks(target, out)

    if info.saves_input is None:  # depends on the arguments: documented in the note
        assert info.note
    else:
        assert run(True) == info.saves_input, "input"
    if info.saves_output is not None and name not in ("Identity", "Flatten", "Unflatten"):
        assert run(False) == info.saves_output, "output"
    if info.inplace_param:
        cls = getattr(torch.nn, name)
        params = list(inspect.signature(cls.__init__).parameters)[1:]
        assert params[info.inplace_index] == "inplace"
        spec = GEN.MODULES[name]
        m3 = cls(*spec.ctor, **{**spec.kw, "inplace": True}).train()
        x = grad_input(shape=shape)
        out = m3(x)
        if info.inplace_ignored:  # AlphaDropout & co.: the flag is accepted and ignored
            assert info.inplace_op is None and out.data_ptr() != x.data_ptr()
            return
        assert out.data_ptr() == x.data_ptr()
        # with inplace=True the written input is saved iff inplace_saves_output
        assert breaks(x, out) == (info.inplace_saves_output), "inplace"


def test_adaptive_avg_pool_saves_depend_on_output_size() -> None:
    info = ot.module_info("AdaptiveAvgPool2d")
    assert info.saves_input is None and info.saves_output is False
    for size, saved in ((1, False), (2, True)):
        x = grad_input(shape=(1, 2, 4, 4))
        out = torch.nn.AdaptiveAvgPool2d(size)(x)
        assert breaks(x, out) == saved


def test_module_facts() -> None:
    relu = ot.module_info("nn.ReLU")
    assert relu.op == "relu" and relu.inplace_param == "inplace" and relu.inplace_index == 0
    assert relu.inplace_op == "relu_" and not relu.has_parameters and relu.saves_output
    linear = ot.module_info("Linear")
    assert linear.has_parameters and linear.saves_input and not linear.saves_output
    assert linear.inplace_param is None
    assert ot.module_info("Dropout").inplace_index == 1
    assert ot.module_info("Threshold").inplace_index == 2
    assert ot.module_info("Nope") is None
    emb = ot.module_info("Embedding")
    idx = torch.tensor([0, 1])
    out = torch.nn.Embedding(5, 3)(idx)
    assert emb.saves_input == breaks(idx, out)


FUNCTIONAL_SHAPES = {"dropout2d": (1, 2, 3, 3), "dropout3d": (1, 2, 2, 2, 2)}
FUNCTIONAL_INPUTS = {
    "softmax": {"dim": 1},
    "log_softmax": {"dim": 1},
    "softmin": {"dim": 1},
    "threshold": {"threshold": 0.5, "value": 0.0},
    "glu": {},
}


@pytest.mark.parametrize(
    "name", [n for n, f in sorted(GEN.FUNCTIONALS.items()) if f[1] is not None or n.endswith("_")]
)
def test_functional_inplace_flags_match_torch(name: str) -> None:
    info = ot.functional_info(name)
    assert info is not None and info is ot.functional_info(f"F.{name}")
    fn = getattr(F, name)
    kw = FUNCTIONAL_INPUTS.get(name.rstrip("_"), {})
    if name.endswith("_"):
        assert info.writes_input and info.inplace_param is None
        x = grad_input()
        fn(x, **kw)
        s = ot.saves(info.op, [GRAD], method=False, kwargs={k: NUMBER for k in kw})
        assert s is not None
        assert breaks(x, x) == s.result
        return
    params = list(inspect.signature(fn).parameters)
    assert info.inplace_param == "inplace" and params[info.inplace_index] == "inplace"
    shape = FUNCTIONAL_SHAPES.get(name, (2, 3))
    training = {"training": True} if "training" in params else {}
    for inplace in (False, True):
        x = grad_input(shape=shape)
        out = fn(x, **kw, inplace=inplace, **training)
        expected = info.inplace_saves_output if inplace else info.saves_input
        assert breaks(x, out) == expected, inplace
    x = grad_input(shape=shape)
    out = fn(x, **kw, **training)
    assert breaks(out, out) == info.saves_output


def test_python_functionals() -> None:
    for name in ("normalize", "softsign", "tanhshrink"):
        info = ot.functional_info(name)
        x = grad_input()
        out = getattr(F, name)(x)
        assert breaks(x, out) == info.saves_input
        x = grad_input()
        out = getattr(F, name)(x)
        assert breaks(out, out) == info.saves_output


# Binary ops: for every requires-grad pattern, the per-input saved sets must match autograd.
BINARY = {
    "mul": lambda a, b: torch.mul(a, b),
    "div": lambda a, b: torch.div(a, b),
    "add": lambda a, b: torch.add(a, b),
    "sub": lambda a, b: torch.sub(a, b),
    "pow": lambda a, b: torch.pow(a, b),
    "atan2": lambda a, b: torch.atan2(a, b),
    "hypot": lambda a, b: torch.hypot(a, b),
    "maximum": lambda a, b: torch.maximum(a, b),
    "mm": lambda a, b: torch.mm(a, b),
    "matmul": lambda a, b: torch.matmul(a, b),
    "linear": lambda a, b: F.linear(a, b),
    "xlogy": lambda a, b: torch.xlogy(a, b),
    "fmod": lambda a, b: torch.fmod(a, b),
    "dist": lambda a, b: torch.dist(a, b),
    "dot": lambda a, b: torch.dot(a[0], b[0]),
    "max": lambda a, b: torch.max(a, b),
    "outer": lambda a, b: torch.outer(a[0], b[0]),
    "ger": lambda a, b: torch.ger(a[0], b[0]),
    "divide": lambda a, b: torch.divide(a, b),
    "multiply": lambda a, b: torch.multiply(a, b),
    "true_divide": lambda a, b: torch.true_divide(a, b),
    "sub_": lambda a, b: a.sub_(b),
    "mul_": lambda a, b: a.mul_(b),
    "div_": lambda a, b: a.div_(b),
    "pow_": lambda a, b: a.pow_(b),
}


def _pair(rg_a: bool, rg_b: bool):
    def make(rg: bool):
        t = torch.rand(3, 3) + 0.5
        return t.requires_grad_() * 1.0 if rg else t

    return make(rg_a), make(rg_b)


@pytest.mark.parametrize("name", [n for n, f in sorted(BINARY.items()) if f is not None])
@pytest.mark.parametrize("pattern", [(True, False), (False, True), (True, True)])
def test_binary_saves_match_autograd(name: str, pattern: tuple[bool, bool]) -> None:
    fn = BINARY[name]
    args = [GRAD if rg else NO_GRAD for rg in pattern]
    s = ot.saves(name, args, method=False)
    assert s is not None and s.exact and s.records_grad, name
    inplace = name.endswith("_")
    if inplace:  # the receiver's old value is cloned by autograd when needed, never saved
        assert 0 not in s.args
    for which in (0, 1):
        a, b = _pair(*pattern)
        out = fn(a, b)
        # for in-place ops the receiver *is* output 0
        expected = which in s.args or (inplace and which == 0 and s.result)
        assert breaks((a, b)[which], out) == expected, (name, pattern, which)
    a, b = _pair(*pattern)
    out = fn(a, b)
    assert breaks(out, out) == s.result, (name, pattern, "result")


@pytest.mark.parametrize(
    "expr, left_grad, right_grad",
    [
        ("x * 2", True, None),
        ("2 * x", None, True),
        ("x ** 2", True, None),
        ("2 ** x", None, True),
        ("1 / x", None, True),
        ("2 - x", None, True),
        ("x / 3", True, None),
        ("x + 2", True, None),
        ("x / w", True, False),
        ("w / x", False, True),
        ("x @ w", True, False),
        ("w @ x", False, True),
        ("x * w", True, True),
    ],
)
def test_saves_binop_matches_autograd(expr: str, left_grad, right_grad) -> None:
    left_src, sym, right_src = expr.split()

    def arg(src: str, rg):
        return NUMBER if src[0].isdigit() else (GRAD if rg else NO_GRAD)

    s = ot.saves_binop(sym, arg(left_src, left_grad), arg(right_src, right_grad))
    assert s is not None and s.exact, expr

    def run(write: str) -> bool:
        env = {
            "x": grad_input(shape=(3, 3)) if (left_grad or right_grad) else None,
            "w": torch.rand(3, 3) + 0.5,
        }
        if left_src == "x" and left_grad is False or right_src == "x" and right_grad is False:
            env["x"] = torch.rand(3, 3) + 0.5
        if left_src == "w" and left_grad or right_src == "w" and right_grad:
            env["w"] = grad_input(shape=(3, 3))
        out = eval(expr, {}, env)
        names = [left_src, right_src]
        target = out if write == "out" else env[names[int(write)]]
        return breaks(target, out)

    for pos, src in enumerate((left_src, right_src)):
        if not src[0].isdigit():
            assert run(str(pos)) == (pos in s.args), (expr, pos)
    assert run("out") == s.result, (expr, "result")


@pytest.mark.parametrize(
    "call, args",
    [
        ("view", [GRAD, NUMBER]),
        ("view", [GRAD, NUMBER, NUMBER]),
        ("reshape", [GRAD, NUMBER, NUMBER]),
        ("permute", [GRAD, NUMBER, NUMBER]),
        ("expand", [GRAD, NUMBER, NUMBER]),
        ("view", [GRAD, OTHER]),
        ("sum", [GRAD, NUMBER]),
        ("transpose", [GRAD, NUMBER, NUMBER]),
    ],
)
def test_overload_resolution_matches_python(call: str, args) -> None:
    """Int lists take varargs and single ints; dtype overloads take only dtypes."""
    s = ot.saves(call, args, method=True)
    assert s is not None and s.exact
    x = grad_input(shape=(2, 3))
    values = {
        "view": [-1] if len(args) == 2 else [3, 2],
        "reshape": [3, 2],
        "permute": [1, 0],
        "expand": [2, 3],
        "sum": [0],
        "transpose": [0, 1],
    }[call]
    if args[1] is OTHER:
        values = [torch.int32]
    out = getattr(x, call)(*values)
    assert out.requires_grad == bool(s.records_grad), s.op


def test_composite_outputs_exclude_internals() -> None:
    # layer_norm -> native_layer_norm: mean/rstd (outputs 1, 2) are not layer_norm's outputs
    s = ot.saves("layer_norm", [GRAD, OTHER], method=False)
    assert s.args == {0} and not s.outputs
    assert ot.saves(
        "native_layer_norm", [GRAD, OTHER, OTHER, OTHER, NUMBER], method=False
    ).outputs == {1, 2}


# --------------------------------------------------------------------------------------------
# composites recorded under torch by the generator (record_composites)
# --------------------------------------------------------------------------------------------


def _fresh(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, dtype=torch.float64) + 0.5


# name: (the Python call as users write it, its tensor arguments' shapes, table args)
RECORDED_SAMPLES: dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...], list]] = {
    "einsum": (lambda a, b: torch.einsum("nd,nd->n", a, b), ((2, 3), (2, 3)), None),
    "tensordot": (lambda a, b: torch.tensordot(a, b, dims=1), ((3, 4), (4, 2)), None),
    "cdist": (lambda a, b: torch.cdist(a, b), ((3, 4), (2, 4)), None),
    "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b), ((3, 4), (3, 4)), None),
    "linalg_solve": (lambda a, b: torch.linalg.solve(a, b), ((3, 3), (3, 2)), None),
    "linalg_inv": (lambda a: torch.linalg.inv(a), ((3, 3),), None),
    "scaled_dot_product_attention": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        ((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)),
        None,
    ),
    "kron": (lambda a, b: torch.kron(a, b), ((2, 2), (2, 3)), None),
    "inner": (lambda a, b: torch.inner(a, b), ((2, 3), (4, 3)), None),
    "det": (lambda a: torch.det(a), ((3, 3),), None),
}


def _table_saves(name: str, grads: list[bool]) -> tuple[frozenset[int], bool]:
    """(saved argument positions, result saved) as the engine asks the table (analysis.ops:
    Python-level calls, `Tensor[]` arguments)."""
    from gradguard.analysis import ops as engine_ops
    from gradguard.analysis.values import Tri

    def fact(g: bool) -> engine_ops.ArgFact:
        return engine_ops.ArgFact("tensor", Tri.YES if g else Tri.NO)

    if name == "einsum":  # einsum(equation, Tensor[] tensors): one list argument, saved
        # when the list holds a tensor autograd saves (here: the one not requiring grad)
        s = engine_ops.saves(name, [engine_ops.ArgFact("other", Tri.NO), fact(True)], method=False)
        assert [i for i, _ in s.args] == [1]
        return frozenset(i for i, g in enumerate(grads) if not g), s.result is Tri.YES
    s = engine_ops.saves(name, [fact(g) for g in grads], method=False)
    assert all(c is Tri.YES for _, c in s.args), name
    return frozenset(i for i, _ in s.args), s.result is Tri.YES


@pytest.mark.parametrize("name", sorted(RECORDED_SAMPLES))
def test_recorded_composite_saves_match_autograd(name: str) -> None:
    op = ot.lookup(name)
    assert op is not None and any(o.via == "recorded" for o in op.overloads), name
    call, shapes, _ = RECORDED_SAMPLES[name]
    for g in range(len(shapes)):
        grads = [i == g for i in range(len(shapes))]
        saved, result = _table_saves(name, grads)
        for j in range(len(shapes)):
            inputs = [_fresh(*shape).requires_grad_(grads[i]) for i, shape in enumerate(shapes)]
            out = call(*inputs)
            written = inputs[j] if not grads[j] else None
            if written is None:  # a leaf that requires grad: write it under no_grad
                with torch.no_grad():
                    inputs[j].add_(0)
                assert raises_modified(out.sum().backward) == (j in saved), (name, g, j)
            else:
                assert breaks(written, out) == (j in saved), (name, g, j)
        inputs = [_fresh(*shape).requires_grad_(grads[i]) for i, shape in enumerate(shapes)]
        out = call(*inputs)
        assert breaks(out, out) == result, (name, g, "result")


def test_recording_covers_most_composites() -> None:
    table = json.loads((ROOT / "server" / "gradguard" / "data" / "optable.json").read_text())
    composite = [
        o for op in table["ops"].values() for o in op["overloads"] if o["grad"] == "composite"
    ]
    without = [o for o in composite if "saves" not in o]
    recorded = [o for o in composite if o.get("via") == "recorded"]
    assert len(recorded) >= 120 and len(without) <= 100, (len(recorded), len(without))


def test_constructor_signatures_match_torch() -> None:
    assert ot.constructor_accepts("Linear", 2, ["bias"]) is True
    assert ot.constructor_accepts("Linear", 2, ["weight_init"]) is False
    assert ot.constructor_accepts("Linear", 6, []) is False
    assert ot.constructor_accepts("Sequential", 7, []) is True
    assert ot.constructor_accepts("NotAModule", 0, []) is None
    for name, args, bad in [
        ("Linear", (2, 3), "weight_init"),
        ("LayerNorm", (4,), "use_rms"),
        ("Conv2d", (1, 2, 3), "groups_per_channel"),
    ]:
        cls = getattr(torch.nn, name)
        cls(*args)
        with pytest.raises(TypeError):
            cls(*args, **{bad: 1})
        assert ot.constructor_accepts(name, len(args), [bad]) is False
