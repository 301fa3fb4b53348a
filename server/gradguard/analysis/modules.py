"""Other files of the workspace: resolving imports to files, and their dataflows.

One ``Project`` per analysis of a file (the *root*).  An import of a module that resolves
to a Python file — beside the importing file, in its package, at the project root, or an
installed package's pure-Python source — binds a lazy reference (``ImportRef``); the first
use parses that file (cached by content) and runs a ``Dataflow`` over its top level only:
its functions and classes are analysed when something calls them, in the caller's context.
That top level runs once per text in a process (``snapshots``): later loads get a copy.
Those dataflows share the root's findings and call state, so a write found in another file
through a call lands in the root's sites with ``WriteSite.path`` set.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from . import syntax_facts
from .calls import CallState

if TYPE_CHECKING:
    from .dataflow import Dataflow

MAX_MODULES = 24  # other files one analysis may load
MAX_BYTES = 400_000  # larger modules are not followed
# Packages whose code gradguard models by its tables, or that never call back into tensors
# the way user code does: following them costs time and finds nothing.
_NOT_FOLLOWED = frozenset(
    {
        "torch",
        "numpy",
        "typing",
        "typing_extensions",
        "collections",
        "functools",
        "os",
        "sys",
        "math",
        "random",
        "dataclasses",
        "itertools",
        "re",
        "json",
        "logging",
        "abc",
        "contextlib",
        "pathlib",
        "argparse",
        "time",
        "copy",
        "warnings",
        "enum",
        "inspect",
        "tqdm",
        "pandas",
        "scipy",
        "matplotlib",
        "PIL",
        "cv2",
        "transformers",
        "jax",
    }
)

SourceReader = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ImportRef:
    """`from module import name` / `import module` as written, resolved on first use."""

    module: str  # dotted, without the leading dots
    level: int  # relative import: how many leading dots
    name: str | None  # None: the module itself


class Project:
    def __init__(self, root_path: str | None, read_source: SourceReader | None = None) -> None:
        self.root_path = os.path.abspath(root_path) if root_path else None
        self.read_source = read_source
        self.calls = CallState()
        self.root: Dataflow | None = None
        self.flows: dict[str, Dataflow | None] = {}
        self.depends_on: set[str] = set()  # files whose content the root's result used
        self.widest = 0  # the most files loaded when one more was loaded (``snapshots``)
        self.resolving: set[tuple[int, ImportRef]] = set()  # imports being followed
        self.resolved: dict[tuple[str | None, ImportRef], Any] = {}  # (importer, ref) -> Value
        # Templates replayed here (``snapshots``): id(template) -> its copier's memo (id of a
        # template object -> its copy here), id(copy) -> (template, the template object),
        # id(copied dataflow) -> its template.  Call summaries made in one analysis are
        # checked in another through them (``summaries``).
        self.copies: dict[int, dict[int, Any]] = {}
        self.originals: dict[int, tuple[Any, Any]] = {}
        self.template_of: dict[int, Any] = {}
        self.templates: list[Any] = []  # keeps the templates (and the ids above) alive
        self._files: dict[tuple[str | None, ImportRef, str | None], str | None] = {}
        self._sources: dict[str, str | None] = {}

    def share_findings(self, flow: Dataflow) -> None:
        """A dataflow of another file reports into the root's lists."""
        root = self.root
        if root is None or root is flow:
            return
        flow.sites = root.sites
        flow.violations = root.violations
        flow.unknown_sites = root.unknown_sites
        flow.records = root.records
        flow._site_keys = root._site_keys
        flow._reported_violation_keys = root._reported_violation_keys

    # ------------------------------------------------------------ resolution
    def is_installed(self, path: str) -> bool:
        """A file of an installed package (site-packages), not of the workspace."""
        return _installed(path)

    def find_module(
        self, importer: str | None, ref: ImportRef, name: str | None = None
    ) -> str | None:
        """The file `ref` (plus `.name`, when given) refers to, or None."""
        key = (importer, ref, name)
        if key not in self._files:
            self._files[key] = self._find_module(importer, ref, name)
        return self._files[key]

    def _find_module(self, importer: str | None, ref: ImportRef, name: str | None) -> str | None:
        dotted = ref.module + (f".{name}" if name else "") if ref.module else (name or "")
        if not dotted and not ref.level:
            return None
        parts = [p for p in dotted.split(".") if p]
        if not ref.level and parts and parts[0] in _NOT_FOLLOWED:
            return None
        if importer and _installed(importer):
            return None  # library code is judged on its own: its imports are not followed
        for base in self._bases(importer, ref.level):
            found = _module_file(os.path.join(base, *parts)) if parts else _package_init(base)
            if found is not None:
                return found
        return None

    def _bases(self, importer: str | None, level: int) -> list[str]:
        here = os.path.dirname(os.path.abspath(importer)) if importer else os.getcwd()
        if level:
            base = here
            for _ in range(level - 1):
                base = os.path.dirname(base)
            return [base]
        bases = [here]
        top = here  # the folder holding the importer's top-level package
        while os.path.isfile(os.path.join(top, "__init__.py")):
            top = os.path.dirname(top)
        bases.append(top)
        root = _project_root(here)
        if root is not None:
            bases += [root, os.path.join(root, "src")]
        bases.append(os.getcwd())
        bases += _installed_roots()
        out: list[str] = []
        for b in bases:
            if b and b not in out:
                out.append(b)
        return out

    # --------------------------------------------------------------- loading
    def flow_for(self, path: str) -> Dataflow | None:
        """The top-level dataflow of another file (None: too big, unreadable, a cycle):
        a copy of its template (``snapshots``) when that is what running it here gives."""
        path = os.path.abspath(path)
        if path in self.flows:
            return self.flows[path]
        if path == self.root_path or len(self.flows) >= MAX_MODULES or self.calls.out_of_budget():
            return None
        source = self._source(path)
        if source is not None:
            from . import snapshots

            replayed = snapshots.load(self, path, source)
            if replayed is not False:
                return replayed  # type: ignore[return-value]
        return self.run_flow(path)

    def run_flow(self, path: str) -> Dataflow | None:
        """Load another file here: run its top level in this analysis."""
        self.widest = max(self.widest, len(self.flows))
        self.flows[path] = None  # a cycle of imports sees None
        source = self._source(path)
        if source is None:
            return None
        from .dataflow import Dataflow

        module = parsed_tree(source, path)
        flow = Dataflow(module, syntax_facts.lines_of(module, source), path=path, project=self)
        self.flows[path] = flow
        self.depends_on.add(path)
        flow.run_top_level()
        return flow

    def _source(self, path: str) -> str | None:
        """Another file's text (the editor's, else the disk's), read once per analysis."""
        if path not in self._sources:
            self._sources[path] = self._read_source(path)
        return self._sources[path]

    def _read_source(self, path: str) -> str | None:
        source = self.read_source(path) if self.read_source is not None else None
        if source is None:
            try:
                if os.path.getsize(path) > MAX_BYTES:
                    return None
                with open(path, encoding="utf-8", errors="replace") as handle:
                    source = handle.read()
            except OSError:
                return None
        return source if len(source) <= MAX_BYTES else None


_parse_lock = threading.Lock()
_parsed: dict[str, Any] = {}  # source -> tree, least recently used first
_parsed_chars = 0
# Trees kept, in characters of their source (a parso tree takes about 22 bytes per
# character: 4M characters is about 90 MB, the files of a large project).
PARSED_CHARS = 4_000_000
# The text each path was last parsed with: a path keeps one tree, its newest text's (an
# edited document's older versions are never asked for again; on disk, one text a path).
_newest: dict[str, str] = {}
_paths_of: dict[str, set[str]] = {}  # the other way round: text -> paths it is newest of
parse_stats = {"hits": 0, "misses": 0}  # parsed_tree lookups (the benchmarks print them)


def parsed_tree(source: str, path: str | None = None) -> Any:
    """parso's tree of a file's text, cached by content (trees are only read): the files one
    analysis loads, and a file checked after another file imported it, are parsed once.
    With `path` (the file the text is of), the tree of that path's previous text goes
    (unless another path has that text): an editor's document keeps only its newest tree.

    Besides the facts of each tree's syntax (``syntax_facts``, pure functions of its text)
    and the templates of other files' top levels (``snapshots``, replayed only where a run
    would give the same), this is the only state one analysis leaves for the next in a
    process: a file's findings never depend on which files were analysed before it in the
    same process (``-j``, file order, keystrokes)."""
    with _parse_lock:
        tree = _parsed.pop(source, None)
        if tree is not None:
            _parsed[source] = tree
            parse_stats["hits"] += 1
            superseded = _newer_text(path, source)
        else:
            parse_stats["misses"] += 1
    if tree is not None:
        _forget_text(path, superseded)
        return tree
    from .driver import parse

    tree = parse(source)
    syntax_facts.share(tree, source)
    with _parse_lock:
        raced = _parsed.pop(source, None)  # another thread parsed the same text meanwhile
        if raced is None:
            _add_chars(len(source))
        else:
            syntax_facts.forget(raced)
        _parsed[source] = tree
        superseded = _newer_text(path, source)
        dropped = []
        while _parsed_chars > PARSED_CHARS and len(_parsed) > 1:
            dropped.append(next(iter(_parsed)))
            _evict(dropped[-1])
    _forget_text(path, superseded)
    if dropped:  # a template made with a dropped tree would keep it alive beside a new one
        from . import snapshots

        snapshots.forget_texts(set(dropped))
    return tree


def _add_chars(n: int) -> None:
    global _parsed_chars
    _parsed_chars += n


def _newer_text(path: str | None, source: str) -> str | None:
    """Record `source` as `path`'s text; the previous one if no path has it any more."""
    if path is None:
        return None
    previous = _newest.get(path)
    if previous == source:
        return None
    _newest[path] = source
    _paths_of.setdefault(source, set()).add(path)
    if previous is None:
        return None
    others = _paths_of.get(previous)
    if others is not None:
        others.discard(path)
        if others:
            return None
        del _paths_of[previous]
    return previous


def _evict(source: str | None) -> None:
    """Drop the tree of `source` (with the parse lock held), and its paths' record."""
    if source is None:
        return
    tree = _parsed.pop(source, None)
    if tree is not None:
        _add_chars(-len(source))
        syntax_facts.forget(tree)
    for path in _paths_of.pop(source, ()):
        if _newest.get(path) == source:
            del _newest[path]


def _forget_text(path: str | None, source: str | None) -> None:
    """`path` no longer has the text `source`: its tree (above) and the templates made with
    it go, since no analysis will ask for them again."""
    if path is None or source is None:
        return
    with _parse_lock:
        _evict(source)
    from . import snapshots

    snapshots.forget_text(path, source)


def _module_file(base: str) -> str | None:
    if os.path.isfile(base + ".py"):
        return base + ".py"
    return _package_init(base)


def _package_init(base: str) -> str | None:
    init = os.path.join(base, "__init__.py")
    return init if os.path.isfile(init) else None


@cache
def _project_root(here: str) -> str | None:
    cur = here
    while True:
        if any(
            os.path.exists(os.path.join(cur, m)) for m in ("pyproject.toml", ".git", "setup.py")
        ):
            return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return None
        cur = parent


def _installed(path: str) -> bool:
    absolute = os.path.abspath(path)
    return any(absolute.startswith(root + os.sep) for root in _installed_roots())


@cache
def _installed_roots() -> tuple[str, ...]:
    """site-packages folders (pure-Python sources of installed packages), not the stdlib."""
    stdlib = {sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib")}
    roots = []
    for entry in sys.path:
        if not entry or entry in stdlib or not os.path.isdir(entry):
            continue
        if "site-packages" in entry or "dist-packages" in entry:
            roots.append(entry)
    return tuple(roots)
