"""Another file's top level, run once per text and replayed into each analysis that loads it.

``Project.flow_for`` runs the top level of each file an analysis loads.  Most analyses of
one CLI run, and every keystroke in the server, load the same files, so their top levels
ran again and again.  A *template* is that run made once in a context of its own: a fresh
``Project`` and ``CallState`` (its own budget), ids counted from ``values.fresh_ids``'s
start, the other files it loads replayed from their own templates.  It keeps what the run
made: the dataflows of the files it loaded, the findings of its top-level calls, what it
added to the call state, and the work it did (steps, calls, files, call depth, ids).

``replay`` copies a template into an analysis when the copy is exactly what running the
top level there would give, and otherwise leaves the run to ``flow_for`` (as before):

- every file the template read has the same text, and every import it resolved resolves
  to the same file; none of those files is loaded (or being loaded) in the analysis yet,
  and none is the analysed file (the run would have seen those dataflows as they are);
- the analysis' bounds leave room for the template's work: its steps, analysed calls and
  files fit under ``MAX_STEPS``, ``MAX_CALLS`` and ``MAX_MODULES`` from where the analysis
  stands, its deepest call fits under ``MAX_DEPTH`` above the analysis' call stack, and no
  function it called is on that stack (a recursion the run would have cut);
- the run found every class it looked up in its own files and swallowed no failure.

So the findings never depend on whether a template was there (cache hit or miss, file
order, ``-j``, keystrokes).  Ids of records and storages are shifted to where the
analysis' counter stands and the counter advanced past them: the ids are those the run
would have made.  Call chains of the template's findings get the analysis' current chain
in front.  A copy shares what no analysis changes (parso nodes, origins, module
descriptions, import references, values with no mutable part) and copies the rest.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import failures
from ..model import Range
from .calls import MAX_CALLS, MAX_DEPTH, MAX_STEPS, FunctionContext
from .scope import ClassInfo, FuncRef, Scope
from .sites import Violation, WriteSite
from .values import _FIRST_ID, SaveRecord, Storage, Tri, Value, _ids, fresh_ids, new_id

if TYPE_CHECKING:
    from .dataflow import Dataflow
    from .modules import ImportRef, Project

# Templates kept, in characters of the files each one loaded (a template holds less than
# those files' parso trees, which the parse cache keeps beside it).
TEMPLATE_CHARS = 4_000_000
# How templates were used (the benchmarks print them): "replayed" (a copy served a load),
# "built" (a run made a new template), "ran" (the load ran in the analysis: the template
# did not fit its context), "unusable" (a template whose run depends on its context).
stats = {"replayed": 0, "built": 0, "ran": 0, "unusable": 0}

_lock = threading.Lock()
_templates: OrderedDict[tuple[str, str], Template] = OrderedDict()  # least recent first
_chars = 0  # the weights (``_weight``) of the templates kept
_building = threading.local()  # .paths: the templates this thread is making (cycles)


@dataclass
class Template:
    """One run of a file's top level in a context of its own, and what it made."""

    path: str
    usable: bool
    flows: dict[str, Dataflow | None] = field(default_factory=dict)
    sources: dict[str, str | None] = field(default_factory=dict)
    files: dict[tuple[str | None, ImportRef, str | None], str | None] = field(default_factory=dict)
    resolved: dict[tuple[str | None, ImportRef], Value] = field(default_factory=dict)
    depends_on: set[str] = field(default_factory=set)
    sites: list[WriteSite] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    unknown_sites: list[WriteSite] = field(default_factory=list)
    records: dict[int, SaveRecord] = field(default_factory=dict)
    reported: set[tuple[int, ...]] = field(default_factory=set)
    # Summaries of calls into its files' functions, made in the analyses it was replayed
    # into (``summaries``): they go when the template goes.
    summaries: dict[Any, Any] = field(default_factory=dict)
    steps: int = 0
    analysed: int = 0
    deepest: int = 0  # the longest call stack a call of the run was checked at
    widest: int = 0  # the most files loaded when the run loaded one more
    checked: set[int] = field(default_factory=set)  # id(funcdef) of the calls it checked
    entry_modes: dict[tuple[str | None, Range], set[Tri]] = field(default_factory=dict)
    entry_unfollowed: set[Any] = field(default_factory=set)
    entry_calls: dict[Any, set[Any]] = field(default_factory=dict)
    called: set[int] = field(default_factory=set)
    unanalysed: set[int] = field(default_factory=set)
    branches: dict[int, set[int]] = field(default_factory=dict)
    ids: int = 0  # ids the run took from the counter


def load(project: Project, path: str, source: str) -> Dataflow | None | bool:
    """The dataflow of `path` (text `source`) replayed into `project`; False when the load
    must run in the project instead."""
    if _ids.get() is None:
        return False  # ids are not counted per analysis here: a copy could not match them
    building: set[str] = getattr(_building, "paths", None) or set()
    if path in building:
        return False  # a cycle of imports back to a file whose template is being made
    template = _template(path, source, project)
    if not template.usable:
        stats["unusable"] += 1
        return False
    if not _fits(template, project):
        stats["ran"] += 1
        return False
    stats["replayed"] += 1
    return _replay(template, project)


def clear() -> None:
    """Forget every template (tests; a server whose files changed under it)."""
    global _chars
    with _lock:
        _templates.clear()
        _chars = 0


def forget_text(path: str, source: str) -> None:
    """`path` no longer has the text `source` (an edited document's older version): the
    templates of that text, and those made while that text was `path`'s, go."""
    global _chars
    with _lock:
        for key, template in list(_templates.items()):
            if key == (path, source) or template.sources.get(path) == source:
                del _templates[key]
                _chars -= _weight(template)


def forget_texts(texts: set[str]) -> None:
    """The parse cache dropped the trees of `texts`: the templates made with any of them go
    too (a template holds its files' trees: kept, it would keep them alive beside the new
    trees of the same texts)."""
    global _chars
    with _lock:
        for key, template in list(_templates.items()):
            if key[1] in texts or any(t in texts for t in template.sources.values() if t):
                del _templates[key]
                _chars -= _weight(template)


def _template(path: str, source: str, project: Project) -> Template:
    global _chars
    key = (path, source)
    with _lock:
        found = _templates.get(key)
        if found is not None:
            _templates.move_to_end(key)
            return found
    template = _build(path, project)
    stats["built"] += 1
    with _lock:
        old = _templates.pop(key, None)
        if old is not None:
            _chars -= _weight(old)
        _templates[key] = template
        _chars += _weight(template)
        while _chars > TEMPLATE_CHARS and len(_templates) > 1:
            _, oldest = _templates.popitem(last=False)
            _chars -= _weight(oldest)
    return template


def _weight(template: Template) -> int:
    return sum(len(text) for text in template.sources.values() if text) or 1


def _build(path: str, project: Project) -> Template:
    """Run `path`'s top level in a fresh project that reads files as `project` does."""
    from .dataflow import Dataflow
    from .modules import Project, parsed_tree

    fresh = Project(None, project.read_source)
    collector = Dataflow(parsed_tree(""), [], path=None, project=fresh)
    fresh.root = collector  # holds the findings of the run (no file of its own)
    building: set[str] | None = getattr(_building, "paths", None)
    if building is None:
        building = _building.paths = set()
    building.add(path)
    try:
        with fresh_ids(), failures.collecting() as failed:
            fresh.run_flow(path)
            used = new_id() - _FIRST_ID
    except Exception:  # the run fails the same way where it runs for real
        return Template(path, usable=False)
    finally:
        building.discard(path)
        fresh.read_source = None  # the template keeps no editor documents alive
    state = fresh.calls
    return Template(
        path,
        usable=not failed and not state.looked_elsewhere,
        flows=dict(fresh.flows),
        sources=dict(fresh._sources),
        files=dict(fresh._files),
        resolved=dict(fresh.resolved),
        depends_on=set(fresh.depends_on),
        sites=list(collector.sites),
        violations=list(collector.violations),
        unknown_sites=list(collector.unknown_sites),
        records=dict(collector.records),
        reported=set(collector._reported_violation_keys),
        steps=state.steps,
        analysed=state.analysed,
        deepest=state.deepest,
        widest=fresh.widest,
        checked=set(state.checked),
        entry_modes={k: set(v) for k, v in state.entry_modes.items()},
        entry_unfollowed=set(state.entry_unfollowed),
        entry_calls={k: set(v) for k, v in state.entry_calls.items()},
        called=set(state.called),
        unanalysed=set(state.unanalysed),
        branches={k: set(v) for k, v in state.branches.items()},
        ids=used,
    )


def _fits(t: Template, project: Project) -> bool:
    """Would running the top level in `project` now do exactly what the template did?"""
    from .modules import MAX_MODULES

    state = project.calls
    if state.steps + t.steps > MAX_STEPS or state.analysed + t.analysed > MAX_CALLS:
        return False
    if len(project.flows) + t.widest >= MAX_MODULES:
        return False
    if state.stack and (
        len(state.stack) + t.deepest >= MAX_DEPTH or any(id(fn) in t.checked for fn in state.stack)
    ):
        return False
    flows = project.flows
    if any(p in flows or p == project.root_path for p in t.sources):
        return False
    root = project.root
    if root is not None:
        if not t.reported.isdisjoint(root._reported_violation_keys):
            return False
        chain = tuple(id(o) for o in state.chain)
        for site in t.sites:
            kind, node, op, own = _site_key(site)
            if (kind, node, op, chain + own) in root._site_keys:
                return False
    if not (
        t.called.isdisjoint(state.called)
        and t.unanalysed.isdisjoint(state.unanalysed)
        and t.branches.keys().isdisjoint(state.branches)
    ):
        return False
    for key, found in t.files.items():
        if project.find_module(*key) != found:
            return False
    return all(project._source(p) == text for p, text in t.sources.items())


def _replay(t: Template, project: Project) -> Dataflow | None:
    ids = _ids.get()
    assert ids is not None
    base = next(ids)
    _ids.set(itertools.count(base + t.ids))
    state = project.calls
    root = project.root
    copier = _Copier(project, base - _FIRST_ID, _FIRST_ID + t.ids, tuple(state.chain))
    for path, flow in t.flows.items():
        project.flows[path] = copier.flow(flow) if flow is not None else None
    for ref_key, value in t.resolved.items():
        project.resolved[ref_key] = copier.value(value)
    project.depends_on |= t.depends_on
    project.widest = max(project.widest, len(project.flows) - len(t.flows) + t.widest)
    if root is not None:
        for site in t.sites:
            copied = copier.site(site)
            root.sites.append(copied)
            root._site_keys[_site_key(copied)] = copied
        root.violations.extend(copier.violation(v) for v in t.violations)
        root.unknown_sites.extend(copier.site(s) for s in t.unknown_sites)
        for record in t.records.values():
            new = copier.record(record)
            root.records[new.id] = new
        root._reported_violation_keys |= t.reported
    state.deepest = max(state.deepest, len(state.stack) + t.deepest)
    state.checked |= t.checked
    state.steps += t.steps
    state.analysed += t.analysed
    for key, modes in t.entry_modes.items():
        state.entry_modes.setdefault(key, set()).update(modes)
    state.entry_unfollowed |= t.entry_unfollowed
    for key, calls in t.entry_calls.items():
        state.entry_calls.setdefault(key, set()).update(calls)
    state.called |= t.called
    state.unanalysed |= t.unanalysed
    for node_id, clauses in t.branches.items():
        state.branches[node_id] = set(clauses)
    copier.finish()
    project.templates.append(t)
    project.copies[id(t)] = copier.memo
    for new_id_, old in copier.back.items():
        project.originals[new_id_] = (t, old)
    for _, copied_flow in copier.flows:
        project.template_of[id(copied_flow)] = t
    return project.flows[t.path]


def _site_key(site: WriteSite) -> tuple[str, int, str, tuple[int, ...]]:
    return (site.kind, id(site.node), site.op, tuple(id(o) for o in site.call_chain))


class _Copier:
    """One replay's copies: each mutable object of the template copied once (aliases and
    cycles kept), ids of the template's records and storages shifted by `shift`."""

    def __init__(self, project: Project, shift: int, end: int, chain: tuple[Any, ...]) -> None:
        self.project = project
        self.shift = shift
        self.end = end  # the template's ids are in [_FIRST_ID, end)
        self.chain = chain
        self.memo: dict[int, Any] = {}
        self.back: dict[int, Any] = {}  # id(copy) -> the template object
        self.flows: list[tuple[Dataflow, Dataflow]] = []

    def id_of(self, old: int) -> int:
        return old + self.shift if _FIRST_ID <= old < self.end else old

    def ids(self, old: frozenset[int]) -> frozenset[int]:
        if not old or not self.shift:
            return old
        return frozenset(self.id_of(i) for i in old)

    # ------------------------------------------------------------------ values
    def value(self, v: Value) -> Value:
        known = self.memo.get(id(v))
        if known is not None:
            return known
        d = v.__dict__
        if (
            d["storage"] is None
            and d["attrs"] is None
            and d["func"] is None
            and d["items"] is None
            and d["element"] is None
            and d["base"] is None
            and d["module_ref"] is None
            and d["owner"] is None
            and d["data_of"] is None
            and d["closed"] is None
            and (not d["graph"] or not self.shift)
        ):
            self.memo[id(v)] = v  # nothing in it an analysis changes: shared
            return v
        new = object.__new__(Value)
        self.memo[id(v)] = new
        self.back[id(new)] = v
        state = dict(d)
        value = self.value
        if d["storage"] is not None:
            state["storage"] = self.storage(d["storage"])
        if d["attrs"] is not None:
            state["attrs"] = self.values(d["attrs"])
        if d["func"] is not None:
            state["func"] = self.func(d["func"])
        if d["items"] is not None:
            state["items"] = tuple(value(x) for x in d["items"])
        if d["element"] is not None:
            state["element"] = value(d["element"])
        if d["base"] is not None:
            state["base"] = value(d["base"])
        if d["module_ref"] is not None:
            state["module_ref"] = self.flow(d["module_ref"])
        if d["owner"] is not None:
            state["owner"] = value(d["owner"])
        if d["data_of"] is not None:
            state["data_of"] = value(d["data_of"])
        if d["graph"]:
            state["graph"] = self.ids(d["graph"])
        if d["closed"] is not None:  # a dict's cell: each analysis may unclose its own
            cell = self.memo.get(id(d["closed"]))
            if cell is None:
                cell = self.memo[id(d["closed"])] = list(d["closed"])
            state["closed"] = cell
        new.__dict__.update(state)
        return new

    def values(self, old: dict[str, Value]) -> dict[str, Value]:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new: dict[str, Value] = {}
        self.memo[id(old)] = new
        value = self.value
        for key, v in old.items():
            new[key] = value(v)
        return new

    def storage(self, old: Storage) -> Storage:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(Storage)
        self.memo[id(old)] = new
        self.back[id(new)] = old
        new.__dict__.update(old.__dict__)
        new.id = self.id_of(old.id)
        new.saves = [self.record(r) for r in old.saves]
        new.parts = [self.storage(p) for p in old.parts]
        return new

    def record(self, old: SaveRecord) -> SaveRecord:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(SaveRecord)
        new.__dict__.update(old.__dict__)
        new.id = self.id_of(old.id)
        self.memo[id(old)] = new
        return new

    def func(self, old: Any) -> Any:
        if not isinstance(old, FuncRef):
            return old
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(FuncRef)
        self.memo[id(old)] = new
        self.back[id(new)] = old
        new.__dict__.update(old.__dict__)
        new.scope = self.scope(old.scope)
        new.flow = self.flow(old.flow)
        new.cls = self.cls(old.cls) if old.cls is not None else None
        new.bound = self.value(old.bound) if old.bound is not None else None
        return new

    # --------------------------------------------------------- scopes and classes
    def scope(self, old: Scope) -> Scope:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(Scope)
        self.memo[id(old)] = new
        self.back[id(new)] = old
        new.__dict__.update(old.__dict__)
        new.env = self.values(old.env)
        new.parent = self.scope(old.parent) if old.parent is not None else None
        new.cls = self.cls(old.cls) if old.cls is not None else None
        new.pending = [self.violation(v) for v in old.pending]
        new.escaped = {self.id_of(i) for i in old.escaped}
        new.escape_origin = {self.id_of(i): o for i, o in old.escape_origin.items()}
        new.deferred = [
            (node, decos, self.scope(sc), self.cls(c) if c is not None else None)
            for node, decos, sc, c in old.deferred
        ]
        if old.returns is not None:
            new.returns = [self.value(v) for v in old.returns]
        return new

    def cls(self, old: ClassInfo) -> ClassInfo:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(ClassInfo)
        self.memo[id(old)] = new
        self.back[id(new)] = old
        new.__dict__.update(old.__dict__)
        new.attrs = self.values(old.attrs)
        new.scope = self.scope(old.scope) if old.scope is not None else None
        new.flow = self.flow(old.flow) if old.flow is not None else None
        return new

    # ---------------------------------------------------------------- findings
    def site(self, old: WriteSite) -> WriteSite:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(WriteSite)
        self.memo[id(old)] = new
        new.__dict__.update(old.__dict__)
        new.target = self.value(old.target)
        if old.grad_input is not None:
            new.grad_input = self.value(old.grad_input)
        new.invalidated = [self.record(r) for r in old.invalidated]
        new.call_chain = self.chain + old.call_chain
        dup = old.__dict__.get("_dup_of")
        if dup is not None:
            new.__dict__["_dup_of"] = self.site(dup)
        return new

    def violation(self, old: Violation) -> Violation:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(Violation)
        self.memo[id(old)] = new
        new.__dict__.update(old.__dict__)
        new.site = self.site(old.site)
        new.save = self.record(old.save)
        return new

    # ---------------------------------------------------------------- dataflows
    def flow(self, old: Dataflow) -> Dataflow:
        known = self.memo.get(id(old))
        if known is not None:
            return known
        new = object.__new__(type(old))
        self.memo[id(old)] = new
        self.back[id(new)] = old
        new.__dict__.update(old.__dict__)
        project = self.project
        new.project = project
        new.calls = project.calls
        new.root_scope = self.scope(old.root_scope) if old.root_scope is not None else None
        new.classes = {name: self.cls(c) for name, c in old.classes.items()}
        new.torch_aliases = set(old.torch_aliases)
        new.attribute_owners = set(old.attribute_owners)
        new.function_contexts = {}
        project.share_findings(new)
        self.flows.append((old, new))
        return new

    def finish(self) -> None:
        """Counts kept by object identity (bindings, views), for the copied objects."""
        memo = self.memo
        for old, new in self.flows:
            held: dict[int, int] = {}
            for key, count in old._held.items():
                copy = memo.get(key)
                if copy is not None:
                    held[id(copy)] = count
            new._held = held
            new._key_of = {id(memo[key]): name for key, name in old._key_of.items() if key in memo}
            new._viewed = {id(memo[key]) for key in old._viewed if key in memo}
            for key, ctx in old.function_contexts.items():
                if key in memo and isinstance(ctx, FunctionContext):
                    new.function_contexts[id(memo[key])] = ctx
