"""What the binder knows about one parse tree: facts that are pure functions of its syntax.

The interpreter asks them again at every run of the code they are about (each call of a
function, each analysis that loads a file): the names a file binds anywhere, the names a
loop body rebinds, whether a function yields, whether a class turns Lightning's automatic
optimization off, which lines read `w.grad`.  ``SyntaxFacts`` answers each once per tree.

Sharing: a tree made by ``modules.parsed_tree`` is cached by its text and never changed,
so its facts are registered beside it (``share``) and serve every analysis in the process
for as long as the parse cache keeps the tree (``forget`` on eviction).  Any other tree
(the language server's incremental parse of the document being typed, whose nodes parso's
diff parser reuses and moves) gets facts of its own, for the analysis that asked.

Per-node facts are keyed by ``id(node)`` with the node kept beside the answer, so an id
that another object took after its node died never answers for it.  Facts are read-only
to their users (frozensets, tuples, and dicts nobody writes into).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..model import Range
from ..text import split_lines
from . import constants
from .nodes import _Span, _target_elements
from .syntax import CallArgs, call_args, dotted_name, node_range, suite_statements

Node = Any  # parso nodes are loosely typed
T = TypeVar("T")

_FREEZE = re.compile(r"requires_grad\s*=\s*False|requires_grad_\(\s*(False|0)\s*\)")
_GRAD_READ = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\.grad\b")
_ATTR_ASSIGN = re.compile(r"\.([A-Za-z_]\w*)\s*(?:=(?!=)|[-+*/|&]=)")
_GLOBAL = re.compile(r"^[ \t]*global[ \t]+([\w \t,]+)", re.M)
_MANUAL_OPTIMIZATION = re.compile(
    r"\bautomatic_optimization\s*=\s*False\b|def\s+automatic_optimization\b"
)
_CONVENTIONAL = ("torch", "nn", "F")  # what `_bound_names` falls back to on a broken tree


class SyntaxFacts:
    """The facts of one tree (a ``file_input``) and of the text it was parsed from."""

    def __init__(
        self, module: Node, lines: list[str] | None = None, source: str | None = None
    ) -> None:
        self.module = module
        self._lines = lines
        self._source = source
        self._bound: frozenset[str] | None = None
        self._globals: frozenset[str] | None = None
        self._grad_reads: dict[str, list[int]] | None = None
        self._freezes: bool | None = None
        self._attr_assignments: dict[str, int] | None = None
        self._setattr_lines: tuple[str, ...] | None = None
        self._mentions_automatic_optimization: bool | None = None
        # id(node) -> (node, fact), one table per kind of fact.
        self._per_node: dict[str, dict[int, tuple[Node, Any]]] = {}
        self._statements: dict[int, tuple[Node, tuple[Node, ...]]] = {}
        self._call_args: dict[int, tuple[Node, CallArgs]] = {}
        self._literals: dict[int, tuple[Node, Any]] = {}
        self._ranges: dict[int, tuple[Node, Range]] = {}

    # ------------------------------------------------------------ the text
    @property
    def lines(self) -> list[str]:
        """The file's lines (``text.split_lines``); shared, never to be written into."""
        lines = self._lines
        if lines is None:
            lines = self._lines = split_lines(self._source or "")
        return lines

    def grad_reads(self) -> dict[str, list[int]]:
        """`w` -> the 1-based lines where `w.grad` is read (`w` may be dotted)."""
        reads = self._grad_reads
        if reads is None:
            reads = {}
            for number, line in enumerate(self.lines, start=1):
                if ".grad" not in line:
                    continue
                for match in _GRAD_READ.finditer(line):
                    reads.setdefault(match.group(1), []).append(number)
            self._grad_reads = reads
        return reads

    def freezes_parameters(self) -> bool:
        """Does some line set `requires_grad = False` / call `requires_grad_(False)`?"""
        found = self._freezes
        if found is None:
            found = self._freezes = any(
                _FREEZE.search(line) for line in self.lines if "requires_grad" in line
            )
        return found

    def assignments_to(self, attr: str) -> int:
        """How many lines assign an attribute `attr` (`self.attr = `, `m.attr += `)."""
        counts = self._attr_assignments
        if counts is None:
            counts = {}
            for line in self.lines:
                if "=" not in line:
                    continue
                for match in _ATTR_ASSIGN.finditer(line):
                    counts[match.group(1)] = counts.get(match.group(1), 0) + 1
            self._attr_assignments = counts
        return counts.get(attr, 0)

    def setattr_may_set(self, attr: str) -> bool:
        """Whether a line calling `setattr` mentions `attr` (`setattr(m, "inplace", True)`)."""
        lines = self._setattr_lines
        if lines is None:
            lines = self._setattr_lines = tuple(line for line in self.lines if "setattr" in line)
        return any(attr in line for line in lines)

    def global_names(self) -> frozenset[str]:
        """Names some `global` statement of the file declares."""
        names = self._globals
        if names is None:
            names = self._globals = frozenset(
                n
                for m in _GLOBAL.finditer("\n".join(self.lines))
                for n in re.split(r"[\s,]+", m.group(1))
                if n
            )
        return names

    # ------------------------------------------------------------ the tree
    def bound_names(self) -> frozenset[str]:
        """Every name the file binds anywhere (assignments, imports, defs, parameters)."""
        names = self._bound
        if names is None:
            names = self._bound = _bound_names(self.module)
        return names

    def manual_optimization(self, classdef: Node) -> bool:
        """Does a class's text turn Lightning's automatic optimization off?"""
        mentioned = self._mentions_automatic_optimization
        if mentioned is None:
            mentioned = self._mentions_automatic_optimization = any(
                "automatic_optimization" in line for line in self.lines
            )
        if not mentioned:
            return False  # no class of the file can (its text is part of the file's)
        return self._fact("manual_optimization", classdef, _manual_optimization)

    def assigned_in(self, body: Node) -> frozenset[str]:
        """Names and dotted names (`self.step`) a block binds (see ``_assigned_in``)."""
        return self._fact("assigned_in", body, _assigned_in)

    def is_generator(self, fn: Node) -> bool:
        """Does the function yield (a generator's body runs later, not at the call)?"""
        return self._fact("is_generator", fn, _is_generator)

    # The hot ones (asked at every run of every statement or call) have tables of their own.
    def statements(self, suite: Node) -> tuple[Node, ...]:
        """``syntax.suite_statements(suite)``, as a tuple."""
        known = self._statements.get(id(suite))
        if known is not None and known[0] is suite:
            return known[1]
        out = tuple(suite_statements(suite))
        if suite.__class__ is not _Span:  # a pseudo-node made for one evaluation
            self._statements[id(suite)] = (suite, out)
        return out

    def call_args(self, trailer: Node) -> CallArgs:
        """``syntax.call_args(trailer)`` (the same object each time: never to be changed)."""
        known = self._call_args.get(id(trailer))
        if known is not None and known[0] is trailer:
            return known[1]
        out = call_args(trailer)
        if trailer.__class__ is not _Span:
            self._call_args[id(trailer)] = (trailer, out)
        return out

    def literal(self, node: Node) -> Any:
        """``constants.literal(node)``: the constant a literal spells, or NOCONST."""
        known = self._literals.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        out = constants.literal(node)
        if node.__class__ is not _Span:
            self._literals[id(node)] = (node, out)
        return out

    def range(self, node: Node) -> Range:
        """``syntax.node_range(node)`` (parso finds a node's end by walking to its last leaf)."""
        known = self._ranges.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        out = node_range(node)
        if node.__class__ is not _Span:
            self._ranges[id(node)] = (node, out)
        return out

    def _fact(self, kind: str, node: Node, compute: Callable[[Node], T]) -> T:
        table = self._per_node.get(kind)
        if table is None:
            table = self._per_node[kind] = {}
        known = table.get(id(node))
        if known is not None and known[0] is node:
            fact: T = known[1]
            return fact
        fact = compute(node)
        table[id(node)] = (node, fact)
        return fact


# ------------------------------------------------------------------ sharing

_lock = threading.Lock()
_shared: dict[int, SyntaxFacts] = {}  # id(tree) -> its facts, for the parse cache's trees


def share(tree: Node, source: str) -> SyntaxFacts:
    """Register the facts of a tree cached by its text (``modules.parsed_tree``)."""
    facts = SyntaxFacts(tree, source=source)
    with _lock:
        _shared[id(tree)] = facts
    return facts


def forget(tree: Node) -> None:
    """The parse cache dropped the tree: so go its facts."""
    with _lock:
        facts = _shared.get(id(tree))
        if facts is not None and facts.module is tree:
            del _shared[id(tree)]


def facts_of(tree: Node, lines: list[str]) -> SyntaxFacts:
    """The shared facts of a cached tree, else new ones for this tree and its `lines`."""
    facts = _shared.get(id(tree))
    if facts is not None and facts.module is tree:
        return facts
    return SyntaxFacts(tree, lines=lines)


def lines_of(tree: Node, source: str) -> list[str]:
    """The lines of the text `tree` was parsed from: a cached tree's are split once."""
    facts = _shared.get(id(tree))
    if facts is not None and facts.module is tree:
        return facts.lines
    return split_lines(source)


# ------------------------------------------------------------ the facts


def _bound_names(module: Node) -> frozenset[str]:
    try:
        used = module.get_used_names()
        return frozenset(
            name for name, leaves in used.items() if any(leaf.is_definition() for leaf in leaves)
        )
    except Exception:
        return frozenset(_CONVENTIONAL)


def _manual_optimization(classdef: Node) -> bool:
    return bool(_MANUAL_OPTIMIZATION.search(classdef.get_code()))


def _is_generator(fn: Node) -> bool:
    try:
        return bool(fn.is_generator())
    except AttributeError:
        return False


def _assigned_in(body: Node) -> frozenset[str]:
    """Names and dotted names (`self.step`) a block binds: assignments, `+=`, `for`
    targets, `with … as`, walrus."""
    out: set[str] = set()
    todo = [body]
    while todo:
        node = todo.pop()
        children = getattr(node, "children", None)
        if children is None:
            continue
        t = node.type
        targets: list[Node] = []
        if t == "expr_stmt" and len(children) >= 2:
            second = children[1]
            if second.type == "annassign":
                targets = [children[0]]
            elif second.type == "operator" and second.value.endswith("="):
                targets = list(children[0:-1:2])
        elif t in ("for_stmt", "comp_for", "sync_comp_for"):
            targets = [children[1]] if children[0].type == "keyword" else []
        elif t == "with_item" and len(children) == 3:
            targets = [children[2]]
        elif t == "namedexpr_test":
            targets = [children[0]]
        while targets:
            target = targets.pop()
            if target.type in ("testlist_star_expr", "exprlist", "testlist") or (
                target.type == "atom" and target.children[0].value in ("(", "[")
            ):
                targets.extend(_target_elements(target))
            elif target.type == "star_expr":
                targets.append(target.children[1])
            else:
                name = dotted_name(target)
                if name is not None:
                    out.add(name)
        todo.extend(children)
    return frozenset(out)
