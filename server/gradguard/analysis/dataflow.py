"""The dataflow: a flow-sensitive abstract interpreter over parso's tree.

Statement by statement it tracks which names hold tensors, which require grad and are
leaves, grad mode, views (and of which kind), and what ops saved for backward; it records
every in-place write (``WriteSite``) and every saved tensor modified before its backward
(``Violation``).  It never imports torch and never runs the user's code.

Where things live (one mixin per concern; ``Dataflow`` puts them together):

- ``interpreter``  statements, control flow, scopes, definitions, environments and joins
- ``expressions``  names, attributes, indexing and views, operators, containers
- ``torch_calls``  torch functions, factories, nn modules, tensor methods (table-driven)
- ``autograd``     write sites, version bumps, saves for backward, ``backward()``
- ``calls``        user calls: resolution, call contexts, inlining, budgets
- ``summaries``    a call analysed once per context and replayed (in later analyses too)
- ``modules``      other files of the workspace: import resolution, parsed-module cache
- ``library_calls`` libraries the workspace does not hold: their models, framework objects

A new tracked torch op goes to the op table (``scripts/gen_optable.py``) or, when it is not
an op, to ``torch_calls``; a new call form (a decorator, a dispatch idiom) to ``calls``.
"""

from __future__ import annotations

from ..model import Range
from .autograd import Autograd
from .calls import Calls, CallState, FunctionContext
from .expressions import Expressions
from .interpreter import Interpreter
from .library_calls import LibraryCalls
from .modules import Project, SourceReader
from .nodes import Node
from .scope import ClassInfo, Scope
from .sites import Violation, WriteSite
from .syntax_facts import facts_of
from .torch_calls import TorchCalls
from .values import Origin, SaveRecord, Tri


class Dataflow(Interpreter, Expressions, TorchCalls, LibraryCalls, Autograd, Calls):
    def __init__(
        self,
        module: Node,
        lines: list[str],
        path: str | None = None,
        project: Project | None = None,
        read_source: SourceReader | None = None,
    ):
        self.module = module
        self.lines = lines
        self.path = path
        # Other files of the workspace this analysis reaches through imports and calls.
        self.project = project if project is not None else Project(path, read_source)
        self.is_foreign = project is not None
        self.calls: CallState = self.project.calls
        self.root_scope: Scope | None = None
        self.function_contexts: dict[int, FunctionContext] = {}  # id(ctx value) -> its facts
        self.sites: list[WriteSite] = []
        self.violations: list[Violation] = []
        self.classes: dict[str, ClassInfo] = {}
        self.torch_aliases: set[str] = set()
        self._reported_violation_keys: set[tuple[int, ...]] = set()
        self._site_keys: dict[tuple[str, int, str, tuple[int, ...]], WriteSite] = {}
        self.records: dict[int, SaveRecord] = {}
        self.unknown_sites: list[WriteSite] = []  # in-place writes on values of unknown type
        self.syntax = facts_of(module, lines)  # what its syntax says (shared by content)
        self.grad_reads = self.syntax.grad_reads()  # "w" -> 1-based lines reading `w.grad`
        self.freezes_parameters = self.syntax.freezes_parameters()
        self.attribute_owners: set[str] = set()  # "self", "self.fc": prefixes of dotted env keys
        self._held: dict[int, int] = {}  # id(value) -> how many bindings it got (aliases)
        self._key_of: dict[int, str] = {}  # id(value) -> the last name bound to it
        self._viewed: set[int] = set()  # id(storage) of tensors some view shares
        self.module_grad = Tri.YES  # after a top-level `torch.set_grad_enabled(False)`: NO
        if project is None:
            self.project.root = self
        else:
            project.share_findings(self)

    def origin(self, range: Range, text: str) -> Origin:
        """A place in this dataflow's file (tagged with the path when it is another file)."""
        return Origin(range, text, self.path if self.is_foreign else None)
