"""What the dataflow hands to the rules: in-place write sites and saved-tensor violations.

The dataflow knows nothing of rule codes; each rule looks at a site and decides whether it
is its business.  Nodes are parso nodes; ranges are model Ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import Range
from .values import Origin, SaveRecord, Tri, Value


@dataclass
class ScopeInfo:
    kind: str  # "module" | "function" | "method"
    name: str
    class_name: str | None = None
    # Is grad mode at entry proven on (module level, forward, __init__) or only assumed?
    entry_grad_certain: bool = True
    # Grad mode at entry proven by the flow (module level, or a call from proven code), not
    # assumed from the function's name (`forward`, `__init__`) as a standalone analysis does.
    grad_proven: bool = True
    callers: tuple[str, ...] = ()  # analysed for a call: the calling functions, outermost first
    range: Range | None = None
    # Analysed for a call: the outermost caller's range (a grad origin there proves grad mode).
    outer_range: Range | None = None


@dataclass
class WriteSite:
    """One in-place write: ``x.add_(1)``, ``x += 1``, ``x[i] = v``, ``F.relu(x, inplace=True)``…

    kind: "method" (a ``*_`` tensor method, or ``torch.relu_(x)``), "augassign",
    "setitem" (assignment through an index, also ``x[i] += v``), "flag" (``inplace=True``),
    "data_assign" (``x.data = e``), "out" (``out=`` argument).
    """

    kind: str
    op: str
    node: Any  # the call / statement that writes
    stmt: Any  # the enclosing simple statement (expr_stmt or bare expression)
    target: Value
    target_node: (
        Any  # expression of the written tensor (receiver, augassign target, subscripted base)
    )
    grad: Tri  # grad mode at the site
    scope: ScopeInfo
    range: Range
    call_args: Any = None  # method call: the trailer node "(…)"
    index_node: Any = None  # setitem: the subscript trailer "[…]"
    value_node: Any = None  # setitem/augassign: right-hand side
    invalidated: list[SaveRecord] = field(default_factory=list)
    # For "out": the input that requires grad (for the message).
    grad_input: Value | None = None
    out_node: Any = None  # the `out=` argument node
    flag_node: Any = None  # the `inplace=True` argument node (None when positional/module)
    module_origin: Origin | None = None  # flags: where the inplace module was created
    later_grad_use: bool = False  # the target's `.grad` is read later in the scope
    aliases: int = 0  # other live names bound to the same tensor (rebinding would not update them)
    target_text: str = ""
    flag_range: Range | None = None  # the `True` of a module's `inplace=True` (maybe elsewhere)
    base_name: str | None = None  # a name bound to the view's base tensor, when there is one
    # Reached through calls: the call sites, outermost first (empty: analysed on its own).
    call_chain: tuple[Origin, ...] = ()
    path: str | None = None  # the file the write is in, when it is not the analysed file
    loop_variable: bool = False  # the target is a `for` loop's variable: rebinding is lost
    # Names bound at the site to Python lists/tuples/dicts (not tensors): `feats[0] = …`
    # rebinds an item there instead of writing into a tensor (for fixes):
    # name -> "dict" (constant keys known) or "sequence" (a list or a tuple).
    python_containers: dict[str, str] = field(default_factory=dict)


@dataclass
class Violation:
    """A tensor saved for backward was modified in place before that backward ran (or, with
    ``silent``, written through ``.data`` before that backward ran)."""

    site: WriteSite
    save: SaveRecord
    backward: Origin | None  # the backward() that will raise; None when the graph escapes
    escaped_by: Origin | None = None
    certain: bool = True
    # A write PyTorch's version counter does not see (through `.data`): backward raises
    # nothing and the gradients come out silently wrong.
    silent: bool = False
