"""Code actions: a quickfix per engine fix, "Disable GGxxx for this line", and
``source.fixAll.gradguard``.

Quick fixes are built from ``Diagnostic.data`` alone (the fix edits and the noqa edit
travel there, already in client units), so this never re-lints.  Fix-all runs
``engine.fix_source`` in the analysis lane; with ``codeAction/resolve`` support its edit is
only computed when the client picks it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from .. import engine
from ..failures import LOG_MARKER, reason_of
from ..model import Fix
from ..text import parses as _parses
from ..trace import RUNTIME_SOURCE
from .convert import SOURCE, TextIndex, edit_from_json

if TYPE_CHECKING:
    from .documents import Document
    from .notebooks import Notebook
    from .server import GradguardServer

log = logging.getLogger(__name__)

FIX_ALL_KIND = "source.fixAll.gradguard"
FIX_ALL_TITLE = "gradguard: fix all safe problems"
QUICKFIX = types.CodeActionKind.QuickFix.value


def kind_wanted(kind: str, only: Iterable[str] | None) -> bool:
    if only is None:
        return True
    return any(
        kind == o or kind.startswith(f"{o}.") for o in (str(getattr(o, "value", o)) for o in only)
    )


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _data(diag: types.Diagnostic) -> dict[str, Any] | None:
    data = diag.data
    if diag.source not in (SOURCE, RUNTIME_SOURCE) or not isinstance(data, dict):
        return None
    return data


def _edits(raw: Any) -> list[types.TextEdit] | None:
    if not isinstance(raw, list):
        return None
    edits = [edit_from_json(e) for e in raw]
    if not edits or any(e is None for e in edits):
        return None
    return [e for e in edits if e is not None]


def points_at(diag: types.Diagnostic, uri: str, rng: types.Range) -> bool:
    """Whether the diagnostic names a place under ``rng`` as related and a fix of it edits
    there: GG106's `nn.ReLU(inplace=True)`, reported on the call in `forward`."""
    data = _data(diag)
    if data is None or not diag.related_information:
        return False
    places = [
        info.location.range
        for info in diag.related_information
        if info.location.uri == uri and _overlaps(info.location.range, rng)
    ]
    if not places:
        return False
    raw = data.get("fixes") or []
    edits = [e for f in raw if isinstance(f, dict) for e in _edits(f.get("edits")) or []]
    return any(_overlaps(e.range, place) for e in edits for place in places)


def quickfixes(
    ls: GradguardServer,
    doc: Document,
    diagnostics: list[types.Diagnostic],
    with_noqa: bool = True,
) -> list[types.CodeAction]:
    fixes: list[types.CodeAction] = []
    noqas: list[types.CodeAction] = []
    seen_noqa: set[tuple[str, int]] = set()
    for diag in diagnostics:
        data = _data(diag)
        if data is None:
            continue
        if data.get("version") != doc.version:
            continue  # computed for another version: its edits would land in the wrong place
        raw_fixes = data.get("fixes") or []
        order = sorted(
            range(len(raw_fixes)),
            key=lambda i: not (isinstance(raw_fixes[i], dict) and raw_fixes[i].get("preferred")),
        )
        for i in order:
            fix = raw_fixes[i]
            if not isinstance(fix, dict):
                continue
            edits = _edits(fix.get("edits"))
            if edits is None:
                continue
            fixes.append(
                types.CodeAction(
                    title=str(fix.get("title") or "Fix"),
                    kind=QUICKFIX,
                    diagnostics=[diag],
                    is_preferred=bool(fix.get("preferred")) or None,
                    edit=ls.workspace_edit(doc.uri, doc.version, edits),
                )
            )
        noqa = data.get("noqa")
        if with_noqa and isinstance(noqa, dict):
            edits = _edits([noqa.get("edit")])
            key = (str(diag.code), diag.range.start.line)
            if edits is not None and key not in seen_noqa:
                seen_noqa.add(key)
                noqas.append(
                    types.CodeAction(
                        title=str(noqa.get("title") or f"Disable {diag.code} for this line"),
                        kind=QUICKFIX,
                        diagnostics=[diag],
                        edit=ls.workspace_edit(doc.uri, doc.version, edits),
                    )
                )
    return fixes + noqas


def minimal_edit(old: str, new: str, encoding: str) -> types.TextEdit | None:
    """One edit turning ``old`` into ``new``: the span between their common prefix and suffix."""
    if old == new:
        return None
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    # Never split a \r\n pair: widen to whole characters of the line break.
    while prefix > 0 and old[prefix - 1] == "\r" and prefix < len(old) and old[prefix] == "\n":
        prefix -= 1
    index = TextIndex(old, encoding)
    return types.TextEdit(
        range=types.Range(
            index.offset_to_client(prefix), index.offset_to_client(len(old) - suffix)
        ),
        new_text=new[prefix : len(new) - suffix],
    )


def fixed_text(text: str, engine_path: str, settings: Any, shown: Iterable[Fix]) -> str:
    """Text with every safe fix applied: the ones on screen first (they may come from the
    jedi tier), then whatever ``engine.fix_source`` still finds.  Runs in a lane thread."""
    current = text
    chosen = [f for f in shown if f.is_safe]
    if chosen:
        candidate, applied = engine.apply_fixes(current, chosen)
        if applied and (_parses(candidate) or not _parses(current)):
            current = candidate
    current, _ = engine.fix_source(current, engine_path, settings.merged(jedi=False))
    return current


def _notebook_of(ls: GradguardServer, doc: Document) -> Notebook | None:
    if doc.notebook_uri is None:
        return None
    return ls.notebooks.get(doc.notebook_uri) or ls.notebooks.notebook_of_cell(doc.uri)


async def notebook_fix_all_edit(
    ls: GradguardServer, notebook: Notebook
) -> types.WorkspaceEdit | None:
    """Fix all for a notebook: every code cell, analysed as the one program they form
    (the same ``fix_cells`` as ``gradguard check --fix`` on an .ipynb)."""
    from ..notebook import fix_cells

    snapshot = ls.notebooks.snapshot(notebook)
    cells = list(snapshot.program.cells)
    settings = ls.settings.resolve(snapshot.path).settings.merged(jedi=False)
    if ls.scheduler is None:  # not initialised yet
        return None
    future = ls.scheduler.call(lambda: fix_cells(cells, snapshot.path, settings)[0])
    try:
        new_cells = await asyncio.wrap_future(future)
    except Exception:
        log.exception("fix-all failed for %s", notebook.uri)
        return None
    changes = []
    for uri, version, old, new in zip(
        snapshot.cell_uris, snapshot.cell_versions, cells, new_cells, strict=True
    ):
        edit = minimal_edit(old, new, ls.encoding)
        if edit is not None:
            changes.append((uri, version, [edit]))
    if not changes:
        return None
    return ls.workspace_edits(changes)


async def fix_all_edit(ls: GradguardServer, doc: Document) -> types.WorkspaceEdit | None:
    text, version = doc.text, doc.version
    notebook = _notebook_of(ls, doc)
    if notebook is not None:
        # A notebook cell: fix all means every cell of its notebook.
        return await notebook_fix_all_edit(ls, notebook)
    res = ls.diagnostics.current(doc.uri)
    shown = [f for d in (res.diagnostics if res else ()) for f in [engine.choose_fix(d)] if f]
    if doc.notebook_uri is not None:
        # A cell whose notebook is unknown: the cell's own fixes only.
        new, _ = engine.apply_fixes(text, shown)
    else:
        resolved = ls.settings.resolve(doc.path)
        engine_path = doc.path or doc.uri
        if ls.scheduler is None:  # not initialized yet
            return None
        future = ls.scheduler.call(lambda: fixed_text(text, engine_path, resolved.settings, shown))
        try:
            new = await asyncio.wrap_future(future)
        except Exception as exc:  # a bug of ours: no edit rather than a wrong one
            log.debug("fix-all failed for %s", doc.uri, exc_info=True)
            log.error("%s: fix-all failed for %s (%s)", LOG_MARKER, doc.uri, reason_of(exc))
            return None
    edit = minimal_edit(text, new, ls.encoding)
    if edit is None:
        return None
    return ls.workspace_edit(doc.uri, version, [edit])


def _has_safe_fix(ls: GradguardServer, doc: Document) -> bool:
    notebook = _notebook_of(ls, doc)
    uris = [u for u in notebook.cells if u in notebook.code_cells] if notebook else [doc.uri]
    for uri in uris:  # in a notebook: a safe fix in any cell
        res = ls.diagnostics.current(uri)
        if res is None:
            return True  # not analysed yet: offer it, computing will tell
        if any(f.is_safe for d in res.diagnostics for f in d.fixes):
            return True
    return False


def register(ls: GradguardServer) -> None:
    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND],
            resolve_provider=True,
        ),
    )
    async def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        only = params.context.only
        actions: list[types.CodeAction] = []
        if kind_wanted(QUICKFIX, only):
            sent = [d for d in params.context.diagnostics if d.source == SOURCE]
            res = ls.diagnostics.current(doc.uri)
            ours = res.lsp if res else ()
            if not sent:  # some clients send none: use ours under the range
                sent = [d for d in ours if _overlaps(d.range, params.range)]
            actions.extend(quickfixes(ls, doc, sent))
            # A finding reported elsewhere whose fix edits here (the `inplace=True` of a
            # module whose call GG106 flags): its fixes here too, one click from either place.
            pointing = [
                d
                for d in ours
                if not _overlaps(d.range, params.range) and points_at(d, doc.uri, params.range)
            ]
            actions.extend(quickfixes(ls, doc, pointing, with_noqa=False))
        if kind_wanted(FIX_ALL_KIND, only) and _has_safe_fix(ls, doc):
            action = types.CodeAction(
                title=FIX_ALL_TITLE,
                kind=FIX_ALL_KIND,
                data={"uri": doc.uri, "version": doc.version, "fixAll": True},
            )
            if not ls.supports_resolve_edit:
                action.edit = await fix_all_edit(ls, doc)
            if ls.supports_resolve_edit or action.edit is not None:
                actions.append(action)
        return actions or None

    @ls.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(action: types.CodeAction) -> types.CodeAction:
        data = action.data
        if action.edit is not None or not isinstance(data, dict) or not data.get("fixAll"):
            return action
        doc = ls.documents.get(str(data.get("uri")))
        if doc is not None:
            action.edit = await fix_all_edit(ls, doc) or types.WorkspaceEdit(changes={})
        return action
