"""Fixes checked by running them: generated failing programs, gradguard's fix, PyTorch's verdict.

Each generated case is a failing program and its *intended* twin, written without looking
at any fix: the write done on a clone (`x = x.clone()` first), or for a leaf whose `.grad`
is read later, the write done on the initial values before `requires_grad_()`.  For each
case the engine's fix is applied (the one `--fix --unsafe-fixes` picks), and under torch 2.13:

- the fixed program runs: a fix never turns one error into another;
- when it prints other values or gradients than the intended twin, the fix is labelled
  unsafe (and cases marked ``exact`` must print the intended values whatever the label);
- the original program really fails (the generator is checked too).

Hypothesis draws batches of cases (derandomized: the same programs on every run); each batch
runs in one torch process (tests/oracle/runner.py), so the test stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from oracle import run_under_torch

from gradguard.engine import apply_fixes, check_source, choose_fix

HEADER = """\
import torch
from torch import nn


def show(t):
    if t is None:
        print(None)
    else:
        print([round(v, 4) for v in t.detach().double().flatten().tolist()], tuple(t.shape))


"""


@dataclass(frozen=True, repr=False)
class Case:
    kind: str
    program: str
    intended: str
    line: int  # 1-based line of the write in ``program``
    exact: bool = False  # the preferred fix must give the intended values, safe or not

    def __repr__(self) -> str:  # hypothesis prints failing batches: keep it short
        return f"Case({self.kind!r}, line {self.line})"


DTYPES = ["torch.float32", "torch.float64"]
SHAPES = [(4,), (3, 4), (2, 3, 4), (4, 1), (1, 4)]


def _program(body: list[str]) -> tuple[str, int]:
    """The program text and the 1-based line of the line marked with `#@`."""
    text = HEADER + "\n".join(body) + "\n"
    line = next(i for i, ln in enumerate(text.split("\n"), 1) if ln.endswith("#@"))
    return text.replace("  #@", ""), line


def _case(kind: str, body: list[str], intended: list[str], exact: bool = False) -> Case:
    program, line = _program(body)
    return Case(kind, program, HEADER + "\n".join(intended) + "\n", line, exact)


@st.composite
def shapes_and_dtypes(draw: st.DrawFn) -> tuple[tuple[int, ...], str]:
    return draw(st.sampled_from(SHAPES)), draw(st.sampled_from(DTYPES))


@st.composite
def index_and_value(
    draw: st.DrawFn, shape: tuple[int, ...], name: str, dtype: str
) -> tuple[str, str]:
    """An index form valid for ``shape`` and a value that broadcasts to what it selects."""
    n0 = shape[0]
    forms = [
        (f"{name} > 0", "number"),
        (f"~({name} < 0.5)", "number"),
        ("0", "row"),
        ("-1", "row"),
        (f"0:{n0}:2", "row"),
        (f"-{n0}:", "row"),
        ("...", "number"),
        ("None", "number"),
        (f"torch.tensor([0, {n0 - 1}])", "row"),
        (
            f"torch.tensor([{', '.join('True' if i % 2 == 0 else 'False' for i in range(n0))}])",
            "row",
        ),
    ]
    if len(shape) >= 2:
        forms += [(":, 0", "number"), ("..., -1", "number"), ("1:, ::2", "number")]
    index, kind = draw(st.sampled_from(forms))
    if kind == "row" and len(shape) >= 2 and draw(st.booleans()):
        value = f"torch.linspace(-1, 1, {shape[-1]}, dtype={dtype})"  # broadcasts along a row
    else:
        value = draw(st.sampled_from(["0.0", "-1.5", "2", "float('inf')"]))
    return index, value


METHODS = [
    ("mul_", "2"),
    ("add_", "1"),
    ("clamp_", "-0.5, 0.5"),
    ("sigmoid_", ""),
    ("tanh_", ""),
    ("exp_", ""),
    ("neg_", ""),
    ("fill_", "0.25"),
    ("zero_", ""),
    ("t_", ""),
    ("unsqueeze_", "0"),
]
AUG_OPS = ["+=", "-=", "*=", "/="]
# Writes that set a leaf's values (initialise, clip): on a leaf that keeps training, the
# intended program applies them to the values the leaf starts from.
INITS = {"fill_", "zero_", "clamp_"}


@st.composite
def leaf_write(draw: st.DrawFn) -> Case:
    """In-place write on a grad leaf; the leaf's `.grad` read later or not."""
    shape, dtype = draw(shapes_and_dtypes())
    make = f"torch.randn({shape}, dtype={dtype})"
    form = draw(st.sampled_from(["method", "aug", "setitem", "expr"]))
    if form == "method":
        op, args = draw(st.sampled_from(METHODS))
        if op == "t_" and len(shape) > 2:
            op, args = "transpose_", "0, 1"
        write = f"x.{op}({args})"
    elif form == "aug":
        write = f"x {draw(st.sampled_from(AUG_OPS))} {draw(st.sampled_from(['2.0', '0.5', 'x.detach()']))}"
    elif form == "expr":
        op, args = draw(st.sampled_from([m for m in METHODS if m[0] not in ("t_", "unsqueeze_")]))
        write = f"y = x.{op}({args})"
    else:
        index, value = draw(index_and_value(shape, "x", dtype))
        write = f"x[{index}] = {value}"
    grad_read = draw(st.booleans())
    if grad_read:
        tail = ["loss = (x * x).sum()", "loss.backward()", "show(x)", "show(x.grad)"]
        # Intended: the write is part of making the leaf (an init / update of its values).
        made = write.replace("y = ", "")
        intended = [f"x = {make}", made, "x.requires_grad_()", *tail]
    else:
        tail = ["show(x)"] + (["show(y)"] if form == "expr" else [])
        intended = [f"x = {make}.requires_grad_()", "x = x.clone()", write, *tail]
    body = [f"x = {make}.requires_grad_()", f"{write}  #@", *tail]
    return _case("leaf", body, intended)


SAVERS = ["torch.sin(h)", "h.pow(2)", "h * h", "torch.sigmoid(h) * h", "h.log1p()"]  # save `h`


@st.composite
def saved_write(draw: st.DrawFn) -> Case:
    """An op saved `h` (or its own output `y`); then `h`/`y` is written in place before the
    backward.  Intended: the same write on a clone."""
    shape, dtype = draw(shapes_and_dtypes())
    base = draw(st.sampled_from(["a * 1", "a.abs() + 0.5", "a + 0"]))
    on_output = draw(st.booleans())
    form = draw(st.sampled_from(["method", "aug", "setitem", "view_method"]))
    name = "y" if on_output else "h"
    if form == "method":
        op, args = draw(st.sampled_from([m for m in METHODS if m[0] not in ("t_", "unsqueeze_")]))
        write = f"{name}.{op}({args})"
    elif form == "aug":
        write = f"{name} {draw(st.sampled_from(AUG_OPS))} 2.0"
    elif form == "setitem":
        index, value = draw(index_and_value(shape, name, dtype))
        if "inf" in value:
            value = "3.0"
        write = f"{name}[{index}] = {value}"
    else:
        write = f"{name}[{draw(st.sampled_from(['0', '-1', '0:1']))}].{draw(st.sampled_from(['mul_(3)', 'zero_()', 'copy_(torch.ones(()))']))}"
    saver = "h.exp()" if on_output else draw(st.sampled_from(SAVERS))
    head = [
        f"a = torch.rand({shape}, dtype={dtype}).add(0.1).requires_grad_()",
        f"h = {base}",
        f"y = {saver}",
    ]
    tail = [
        "loss = y.sum() + (h * 3).sum()",
        "loss.backward()",
        "show(h)",
        "show(y)",
        "show(a.grad)",
    ]
    body = [*head, f"{write}  #@", *tail]
    intended = [*head, f"{name} = {name}.clone()", write, *tail]
    return _case("saved", body, intended, exact=True)


@st.composite
def multi_view_write(draw: st.DrawFn) -> Case:
    """A write into one output of chunk/split/unbind, or into the rows of `for row in h`."""
    n = draw(st.sampled_from([2, 4]))
    cols = draw(st.sampled_from([1, 3]))
    dtype = draw(st.sampled_from(DTYPES))
    head = [f"a = torch.randn({n}, {cols}, dtype={dtype}, requires_grad=True)", "h = a * 2"]
    shown = ["loss = (h * h).sum() if use_h else (p * q).sum()", "loss.backward()", "show(a.grad)"]
    use_h = draw(st.booleans())
    form = draw(st.sampled_from(["chunk", "split", "unbind", "rows"]))
    op, args = draw(
        st.sampled_from([("mul_", "2"), ("add_", "1"), ("exp_", ""), ("clamp_", "0, 1")])
    )
    if form == "rows":
        header = draw(st.sampled_from(["for row in h:", "for i, row in enumerate(h):"]))
        tail = ["loss = (h * h).sum()", "loss.backward()", "show(h)", "show(a.grad)"]
        if draw(st.booleans()):
            # Row by row is the whole tensor at once for these elementwise ops.
            writes, whole = [f"    row.{op}({args})"], [f"h = h.{op[:-1]}({args})"]
        else:
            col = draw(st.sampled_from(["0", "-1"]))
            writes = [f"    row[{col}] = 1.5", "    row *= 2"]
            whole = ["h = h.clone()", f"h[:, {col}] = 1.5", "h = h * 2"]
        body = [*head, header, writes[0] + "  #@", *writes[1:], *tail]
        intended = [*head, *whole, *tail]
        return _case("rows", body, intended, exact=True)
    split = {"chunk": "h.chunk(2)", "split": f"h.split({n // 2})", "unbind": "h.unbind(0)[:2]"}[
        form
    ]
    pieces = [*head, f"use_h = {use_h}", f"p, q = {split}"]
    body = [*pieces, f"p.{op}({args})  #@", *shown, "show(p)"]
    intended = [*pieces, "p = p.clone()", f"p.{op}({args})", *shown, "show(p)"]
    # When `h` is read afterwards, the in-place intent changes `h` too: the piece's
    # rebinding is wrong there and must be labelled unsafe.
    return _case("multi", body, intended)


@st.composite
def view_of_leaf_write(draw: st.DrawFn) -> Case:
    """A write through a view of a grad leaf: `expand`, `as_strided`, `t()`, `view(-1)`, an index.
    The intended program makes the leaf from the written values (an init)."""
    dtype = draw(st.sampled_from(DTYPES))
    view = draw(
        st.sampled_from(
            [
                "w.expand(2, 3, 4)",
                "w.as_strided((4, 3), (1, 4))",
                "w.t()",
                "w.view(-1)",
                "w[0]",
                "w[:, ::2]",
                "w.transpose(0, 1)",
            ]
        )
    )
    op, args = draw(
        st.sampled_from([("fill_", "0.5"), ("zero_", ""), ("mul_", "2"), ("add_", "1")])
    )
    make = f"torch.randn(3, 4, dtype={dtype})"
    tail = ["loss = (w * w).sum()", "loss.backward()", "show(w)", "show(w.grad)"]
    body = [f"w = {make}.requires_grad_()", f"v = {view}", f"v.{op}({args})  #@", *tail]
    if "expand" in view:
        intended = [f"w = {make}.requires_grad_()", *tail]  # writing an expand view is refused
    else:
        intended = [f"w = {make}", f"v = {view}", f"v.{op}({args})", "w.requires_grad_()", *tail]
    return _case("view", body, intended)


@st.composite
def out_write(draw: st.DrawFn) -> Case:
    """`out=` with an input that requires grad: into a plain buffer or a module's Parameter."""
    call = draw(
        st.sampled_from(
            [
                "torch.add(x, 1, out={o})",
                "torch.mul(x, x, out={o})",
                "torch.cat([x, x], out={o})",
                "torch.stack([x, x], out={o})",
                "torch.sigmoid(x, out={o})",
            ]
        )
    )
    n = draw(st.sampled_from([2, 3]))
    into_param = draw(st.booleans())
    if into_param:
        size = {"cat": f"({2 * n},)", "stack": f"(2, {n})"}
        shape = next((v for k, v in size.items() if k in call), f"({n},)")
        body = [
            f"x = torch.randn({n}, requires_grad=True)",
            "m = nn.Module()",
            f"m.buf = nn.Parameter(torch.zeros({shape}))",
            f"{call.format(o='m.buf')}  #@",
            "show(m.buf)",
        ]
        intended = [
            f"x = torch.randn({n}, requires_grad=True)",
            "m = nn.Module()",
            f"m.buf = nn.Parameter(torch.zeros({shape}))",
            "with torch.no_grad():",
            f"    m.buf.copy_({call.format(o='None').replace(', out=None', '')})",
            "show(m.buf)",
        ]
        return _case("out", body, intended)
    body = [
        f"x = torch.randn({n}, requires_grad=True)",
        "buf = torch.empty(0)",
        f"{call.format(o='buf')}  #@",
        "buf.sum().backward()",
        "show(buf)",
        "show(x.grad)",
    ]
    intended = [
        f"x = torch.randn({n}, requires_grad=True)",
        f"buf = {call.format(o='None').replace(', out=None', '')}",
        "buf.sum().backward()",
        "show(buf)",
        "show(x.grad)",
    ]
    return _case("out", body, intended, exact=True)


@st.composite
def step_before_backward(draw: st.DrawFn) -> Case:
    """A GAN's generator loss built before the discriminator's step (or weight decay between a
    forward and its backward)."""
    lr = draw(st.sampled_from(["0.1", "0.01"]))
    d_in, hidden = draw(st.sampled_from([2, 3])), draw(st.sampled_from([3, 4]))
    if draw(st.booleans()):
        head = [
            "torch.manual_seed(0)",
            f"D = nn.Sequential(nn.Linear({d_in}, {hidden}), nn.Tanh(), nn.Linear({hidden}, 1))",
            f"G = nn.Linear({d_in}, {d_in})",
            f"optD = torch.optim.SGD(D.parameters(), lr={lr})",
            f"optG = torch.optim.SGD(G.parameters(), lr={lr})",
            f"fake = G(torch.randn(5, {d_in}))",
        ]
        d_loss = ["loss_d = D(fake.detach()).mean()", "optD.zero_grad()", "loss_d.backward()"]
        g_loss = [
            "loss_g = -d_fake.mean()",
            "optG.zero_grad()",
            "loss_g.backward()",
            "optG.step()",
            "show(G.weight.grad)",
            "show(D[0].weight)",
        ]
        body = [*head, "d_fake = D(fake)", *d_loss, "optD.step()  #@", *g_loss]
        intended = [*head, *d_loss, "optD.step()", "d_fake = D(fake)", *g_loss]
        return _case("step", body, intended, exact=True)
    wd = draw(st.sampled_from(["0.9", "0.99"]))
    head = [
        "torch.manual_seed(0)",
        f"model = nn.Sequential(nn.Linear({d_in}, {hidden}), nn.Tanh(), nn.Linear({hidden}, 1))",
        f"x = torch.randn(5, {d_in})",
        "loss = model(x).pow(2).mean()",
    ]
    decay = ["with torch.no_grad():", "    for p in model.parameters():", f"        p.mul_({wd})"]
    tail = ["show(model[0].weight.grad)", "show(model[0].weight)"]
    body = [*head, *decay[:2], decay[2] + "  #@", "loss.backward()", *tail]
    intended = [*head, "loss.backward()", *decay, *tail]
    return _case("decay", body, intended, exact=True)


@st.composite
def parameter_write(draw: st.DrawFn) -> Case:
    """In-place write on an nn.Parameter, plain or a module's attribute (assigning a plain tensor
    to that attribute raises): the intended program initialises the parameter's values."""
    shape, dtype = draw(shapes_and_dtypes())
    name = draw(st.sampled_from(["w", "m.w"]))
    form = draw(st.sampled_from(["method", "aug", "setitem"]))
    if form == "method":
        op, args = draw(st.sampled_from([m for m in METHODS if m[0] not in ("t_", "unsqueeze_")]))
        write = f"{name}.{op}({args})"
    elif form == "aug":
        write = f"{name} {draw(st.sampled_from(AUG_OPS))} 0.5"
    else:
        index, value = draw(index_and_value(shape, name, dtype))
        write = f"{name}[{index}] = {value}"
    make = f"torch.randn({shape}, dtype={dtype})"
    module = ["m = nn.Module()"] if name == "m.w" else []
    tail = [
        f"loss = ({name} * {name}).sum()",
        "loss.backward()",
        f"show({name})",
        f"show({name}.grad)",
    ]
    body = [*module, f"{name} = nn.Parameter({make})", f"{write}  #@", *tail]
    intended = [*module, f"{name} = {make}", write, f"{name} = nn.Parameter({name})", *tail]
    return _case("param", body, intended)


@st.composite
def helper_write(draw: st.DrawFn) -> Case:
    """`def f(t): return t.op_(…)` (an expression position) or `t.op_(…)` then `return t`, called
    with a grad leaf: the intended helper works on a clone."""
    op, args = draw(st.sampled_from([m for m in METHODS if m[0] not in ("t_", "unsqueeze_")]))
    shape, dtype = draw(shapes_and_dtypes())
    as_expression = draw(st.booleans())
    if as_expression:
        body_lines = [f"    return t.{op}({args})  #@"]
        intended_lines = ["    t = t.clone()", f"    return t.{op}({args})"]
    else:
        body_lines = [f"    t.{op}({args})  #@", "    return t"]
        intended_lines = ["    t = t.clone()", f"    t.{op}({args})", "    return t"]
    call = [
        f"x = torch.randn({shape}, dtype={dtype}, requires_grad=True)",
        "z = f(x)",
        "(z * 2).sum().backward()",
        "show(z)",
        "show(x)",
        "show(x.grad)",
    ]
    body = ["def f(t):", *body_lines, "", "", *call]
    intended = ["def f(t):", *intended_lines, "", "", *call]
    if op in INITS:  # an init helper: it fills the caller's leaf, which then trains
        made = call[0].replace(", requires_grad=True", "")
        helper = ["def f(t):", f"    t.{op}({args})", "    return t", "", ""]
        intended = [*helper, made, "z = f(x)", "x.requires_grad_()", *call[2:]]
    return _case("helper", body, intended)


CASES = st.one_of(
    parameter_write(),
    helper_write(),
    leaf_write(),
    saved_write(),
    multi_view_write(),
    view_of_leaf_write(),
    out_write(),
    step_before_backward(),
)


def _fixed(case: Case) -> tuple[str | None, bool]:
    """The program after the fix `--fix --unsafe-fixes` applies to the write's finding, and
    whether that fix is safe; (None, False) when nothing is found or offered there."""
    diags = [d for d in check_source(case.program) if d.range.start.line + 1 == case.line]
    fixes = [f for d in diags for f in [choose_fix(d, unsafe=True)] if f is not None]
    if not fixes:
        return None, False
    text, applied = apply_fixes(case.program, fixes[:1])
    assert applied == 1
    return text, fixes[0].is_safe


def failures_in(cases: list[Case]) -> list[str]:
    """What goes wrong with each case's fix, run under torch (one process for the batch)."""
    fixed = [_fixed(c) for c in cases]
    programs = [c.program for c in cases] + [c.intended for c in cases]
    programs += [text for text, _ in fixed if text is not None]
    unique = list(dict.fromkeys(programs))
    results = dict(zip(unique, run_under_torch(unique), strict=True))
    problems = []
    for case, (text, safe) in zip(cases, fixed, strict=True):
        original, intended = results[case.program], results[case.intended]
        if original["ok"]:
            problems.append(f"{case.kind}: the generated program runs\n{case.program}")
        elif not intended["ok"]:
            problems.append(
                f"{case.kind}: the intended twin fails: {intended['error']}\n{case.intended}"
            )
        elif text is not None:
            after = results[text]
            same = after["stdout"] == intended["stdout"]
            if not after["ok"]:
                problems.append(f"{case.kind}: the fixed program raises {after['error']}\n{text}")
            elif case.exact and not same:
                problems.append(
                    f"{case.kind}: the fix changes values or gradients\n{text}\n"
                    f"{after['stdout']}intended\n{intended['stdout']}"
                )
            elif safe and not same:
                problems.append(
                    f"{case.kind}: a SAFE fix changes values or gradients\n{text}\n"
                    f"{after['stdout']}intended\n{intended['stdout']}"
                )
    return problems


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a batch runs torch: no shrinking
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(CASES, min_size=40, max_size=40))
def test_fixed_programs_run_like_the_intended_ones(cases: list[Case]) -> None:
    problems = failures_in(cases)
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n\n" + "\n\n".join(problems[:3])
