"""Trace records -> diagnostics (with the static engine's fixes) -> text and JSON. No torch.

The text is the CLI's own format (``output/text.py``); the JSON is ``gradguard check
--format json``'s shape (``output/json.py``) plus what the editor needs to show a runtime
finding: ``source``, ``source_line`` (the line's text when traced, to drop the finding once
the line is edited), every fix, the related places in any file, the recorded chain.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import Applicability, Diagnostic, Fix, Range, RelatedInfo, Severity, TextEdit
from ..output import FileReport, Finding, RenderOptions
from . import RUNTIME_SOURCE
from .events import Failure, TraceResult, WriteRecord
from .sites import Site

_FAMILIES = {
    "version": ("GG105", "GG106"),
    "leaf": ("GG101", "GG102", "GG103", "GG106"),
    "view_of_leaf": ("GG103", "GG104", "GG106"),
    "multi_view": ("GG109",),
    "custom_view": ("GG109",),
    "no_grad_view": ("GG110",),
    "inference": ("GG110",),
    "out": ("GG107",),
    "detach_view": ("GG104", "GG109"),
    "resize": ("GG101",),
    "pack_hook": ("GG105",),
    "captured": ("GG101",),
    "unraised": ("GG105", "GG106"),
    "data": ("GG108",),
}
# Kinds whose fix is not "clone first" (a leaf, `out=`, `.data`, detach_/resize_ themselves).
_NO_CLONE = {
    "leaf",
    "view_of_leaf",
    "out",
    "data",
    "detach_view",
    "resize",
    "captured",
    "pack_hook",
}
_AUG = re.compile(r"(?<![=!<>])(\*\*|//|>>|<<|[-+*/%@&|^])=(?!=)")
_SUBSCRIPT_TARGET = re.compile(r"^\s*[\w.]+\s*\[.*\]\s*(\*\*|//|>>|<<|[-+*/%@&|^])?=(?!=)")
_TARGET_NAME = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\[|\.|(?:\*\*|//|>>|<<|[-+*/%@&|^])?=)")
_WHAT = {
    "leaf": "writes in place into a leaf tensor that requires grad",
    "view_of_leaf": "writes in place into a view of a leaf tensor that requires grad",
    "multi_view": "writes in place into an output of a function that returns several views",
    "no_grad_view": "writes in place, in grad mode, into a view made under no_grad",
    "custom_view": "writes in place into a view (or an input returned as-is) that a custom "
    "autograd.Function returned",
    "inference": "writes in place, outside inference_mode, into a tensor made under inference_mode",
    "out": "passes `out=` to an op whose inputs require grad",
    "detach_view": "calls `detach_()` on a view",
    "resize": "resizes in place a tensor that requires grad",
    "pack_hook": "writes in place, in a saved_tensors_hooks pack hook, into the tensor being saved",
    "captured": "writes in place, inside a torch.func transform, into a tensor the function "
    "captured from outside",
}
_WHAT_BASE = {
    "multi_view": "writes in place into the base of views returned by a function that returns "
    "several views",
    "custom_view": "writes in place into the base of a view a custom autograd.Function returned",
    "no_grad_view": "writes in place, in grad mode, into the base of a view made under no_grad",
}


@dataclass
class RuntimeFinding:
    """One finding: a diagnostic in ``site.file`` plus related places in any file."""

    site: Site
    diagnostic: Diagnostic
    related: list[tuple[Site, str]] = field(default_factory=list)
    kind: str = ""


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return Path(path).as_posix()
    return Path(path if rel.startswith("..") else rel).as_posix()


def _segment(site: Site) -> str:
    text = site.text
    if site.end_line == site.line and site.end_col > site.col:
        return text[site.col : site.end_col]
    return text[site.col :] if site.col < len(text) else text


def _describe(shape: Any, dtype: Any) -> str:
    return f"{str(dtype).replace('torch.', '')}{[int(n) for n in shape]}"


def _static(site: Site) -> list[Diagnostic]:
    """The static engine's diagnostics on the site's line (its fixes are reused)."""
    source = _read(site.file)
    if source is None:
        return []
    from .. import engine
    from ..pyproject import ConfigFinder

    try:
        settings = ConfigFinder(None).for_file(Path(site.file)).settings
    except Exception:  # a broken pyproject must not hide the runtime finding
        settings = None
    try:
        diags = engine.check_source(source, site.file, settings)
    except Exception:
        return []
    return [d for d in diags if d.range.start.line == site.line - 1]


def _runtime_code(kind: str, failure: Failure | None, site: Site, op: str) -> str:
    flag = failure.flag if failure is not None else None
    if kind in ("version", "unraised"):
        return "GG106" if flag == "inplace" else "GG105"
    if kind in ("leaf", "view_of_leaf"):
        line = site.text
        if flag == "inplace":
            return "GG106"
        if op == "__setitem__" or _SUBSCRIPT_TARGET.match(line):
            return "GG103"
        if kind == "view_of_leaf":
            return "GG104"
        if op.startswith("__i") or _AUG.search(_segment(site)):
            return "GG102"
        return "GG101"
    return _FAMILIES[kind][0]


def _clone_fix(site: Site) -> Fix | None:
    match = _TARGET_NAME.match(site.text)
    if match is None:
        return None
    name = match.group(1)
    indent = site.text[: len(site.text) - len(site.text.lstrip())]
    edit = TextEdit(
        Range.of(site.line - 1, 0, site.line - 1, 0), f"{indent}{name} = {name}.clone()\n"
    )
    return Fix(
        f"Clone first: `{name} = {name}.clone()` before the write",
        (edit,),
        Applicability.UNSAFE,
        preferred=True,
    )


def _edited_places(static: Diagnostic, site: Site) -> list[tuple[Site, str]]:
    """The static diagnostic's related places that its preferred fix edits, off the site's
    line: check, trace and the editor then all point there (and offer the fix there)."""
    fix = static.preferred_fix
    edits = fix.edits if fix is not None else ()
    out = []
    for info in static.related:
        if info.range.start.line == site.line - 1 and info.path is None:
            continue
        if info.path is None and any(
            info.range.start <= e.range.start and e.range.end <= info.range.end for e in edits
        ):
            start, end = info.range.start, info.range.end
            place = Site(site.file, start.line + 1, start.character, end.line + 1, end.character)
            out.append((place, info.message))
    return out


def _diagnostic(
    kind: str,
    site: Site,
    op: str,
    message: str,
    severity: Severity,
    related: list[tuple[Site, str]],
    failure: Failure | None,
    runtime_message: str,
    explanation: str,
) -> Diagnostic:
    from ..rules import get_rule

    static = _static(site)
    code = _runtime_code(kind, failure, site, op)
    family = _FAMILIES[kind]
    same = [d for d in static if d.code == code] or [d for d in static if d.code in family]
    if same:
        code = same[0].code
    fixes = (same or static)[0].fixes if (same or static) else ()
    if failure is not None and failure.kind == "version" and failure.site is None:
        fixes = ()  # the site is the backward() call, not a write: nothing to rewrite there
    unseen = failure is not None and failure.kind == "version" and failure.site is None
    if not fixes and not unseen and kind not in _NO_CLONE:
        clone = _clone_fix(site)
        fixes = (clone,) if clone else ()
    if same:  # e.g. GG106's `inplace=True`: the place the fix edits, on another line
        related += [r for r in _edited_places(same[0], site) if r not in related]
    rule = get_rule(code)
    line_text = site.text
    end_col = (
        site.end_col if site.end_line == site.line and site.end_col > site.col else len(line_text)
    )
    rng = Range.of(site.line - 1, site.col, site.line - 1, end_col)
    infos = tuple(
        RelatedInfo(
            Range.of(s.line - 1, s.col, s.line - 1, max(s.end_col, s.col)),
            text if s.file == site.file else f"{text} (in {display_path(s.file)})",
        )
        for s, text in related
    )
    return Diagnostic(
        code=code,
        message=message,
        range=rng,
        severity=severity,
        fixes=tuple(fixes),
        related=infos,
        url=rule.url if rule else "",
        explanation=explanation,
        runtime_message=runtime_message,
        name=rule.name if rule else "",
    )


def _where(site: Site | None, relative_to: Site) -> str:
    if site is None:
        return "somewhere the tracer cannot see"
    if site.file == relative_to.file:
        return f"line {site.line}"
    return f"{display_path(site.file)}:{site.line}"


def _failure_finding(failure: Failure, *, caught: bool = False) -> RuntimeFinding | None:
    site = failure.site or failure.backward
    if site is None:
        return None
    related: list[tuple[Site, str]] = []
    first = failure.message.split(". Hint:")[0].rstrip(".") + "."
    if failure.kind == "version":
        first = first.split(":")[0]
    if failure.kind == "version" and failure.site is not None and failure.save is not None:
        save = failure.save
        tensor = _describe(save.shape, save.dtype)
        message = (
            f"`{_segment(site)}` writes in place (`{failure.op}`) into a {tensor} tensor that "
            f"`{save.op}` saved for backward ({save.grad_fn}, its `{save.attr}`) at "
            f"{_where(save.site, site)}; the write bumped its version "
            f"{failure.version_before} → {failure.version_after}, so the backward() at "
            f"{_where(failure.backward, site)} raised"
        )
        if save.site is not None:
            related.append((save.site, f"saved for backward by `{save.op}` ({save.grad_fn}) here"))
        if failure.backward is not None:
            related.append((failure.backward, "this backward() raised"))
        chain = [
            f"1. {_where(save.site, site)}: `{save.op}` saved a {tensor} tensor for backward "
            f"({save.grad_fn}.{save.attr}) at version {save.version}",
            f"2. {_where(site, site)}: `{failure.op}` wrote into it in place: version "
            f"{failure.version_before} → {failure.version_after}",
            f"3. {_where(failure.backward, site)}: backward() found version "
            f"{failure.version_after}, expected {save.version}, and raised",
        ]
    elif failure.kind == "version" and failure.site is not None:
        tensor = _describe(failure.shape, failure.dtype)
        message = (
            f"`{_segment(site)}` writes in place (`{failure.op}`) into a {tensor} tensor; "
            f"{failure.unseen}; the backward() at {_where(failure.backward, site)} raised"
        )
        if failure.backward is not None:
            related.append((failure.backward, "this backward() raised"))
        chain = [
            f"1. {_where(site, site)}: `{failure.op}` wrote into a {tensor} tensor in place: "
            f"version {failure.version_before} → {failure.version_after}",
            f"2. {_where(failure.backward, site)}: backward() found the changed version and raised",
            f"(gradguard: {failure.unseen})",
        ]
    elif failure.kind == "version":
        message = (
            "this backward() raised because a tensor saved for backward was modified in "
            f"place, and {failure.unseen}; PyTorch raised"
        )
        chain = [failure.unseen]
    elif failure.raised_at is not None and failure.raised_at != site:
        # The view errors' second form: the write came first, the use of the view raised.
        tensor = _describe(failure.shape, failure.dtype)
        what = _WHAT_BASE.get(failure.kind, _WHAT[failure.kind])
        message = (
            f"`{_segment(site)}` {what} ({tensor}); using the view at "
            f"{_where(failure.raised_at, site)} raised"
        )
        if failure.origin is not None:
            related.append((failure.origin, failure.origin_what))
        related.append((failure.raised_at, "the view is used here, and PyTorch raised"))
        chain = [
            f"{_where(site, site)}: `{failure.op}` wrote in place into the view's base",
            f"{_where(failure.raised_at, site)}: the view was used and PyTorch raised",
        ]
        if failure.origin is not None:
            chain.insert(0, f"{_where(failure.origin, site)}: {failure.origin_what}")
    else:
        tensor = _describe(failure.shape, failure.dtype)
        message = f"`{_segment(site)}` {_WHAT[failure.kind]} ({tensor}); PyTorch raised"
        if failure.origin is not None:
            related.append((failure.origin, failure.origin_what))
        chain = [f"{_where(site, site)}: `{failure.op}` on a {tensor} tensor raised"]
        if failure.origin is not None:
            chain.insert(0, f"{_where(failure.origin, site)}: {failure.origin_what}")
    message += f' "{first}"'
    if caught:
        message += " (the program caught this error and went on)"
    explanation = "Recorded at run time by `gradguard trace`:\n\n" + "\n".join(chain)
    diag = _diagnostic(
        failure.kind,
        site,
        failure.op,
        message,
        Severity.WARNING if caught else Severity.ERROR,
        related,
        failure,
        f"RuntimeError: {first}",
        explanation,
    )
    return RuntimeFinding(site, diag, related, failure.kind)


def _unraised_finding(write: WriteRecord) -> RuntimeFinding | None:
    if write.site is None or not write.saves:
        return None
    save = write.saves[0]
    site = write.site
    tensor = _describe(save.shape, save.dtype)
    message = (
        f"`{_segment(site)}` writes in place (`{write.op}`) into a {tensor} tensor that "
        f"`{save.op}` saved for backward ({save.grad_fn}) at {_where(save.site, site)}; no "
        "backward() ran through that graph in this run, one would raise "
        '"one of the variables needed for gradient computation has been modified by an '
        'inplace operation"'
    )
    saved_at = [(save.site, f"saved for backward by `{save.op}` ({save.grad_fn}) here")]
    related = [(s, t) for s, t in saved_at if s is not None]
    failure = Failure("version", "", site, op=write.op, flag=write.flag)
    diag = _diagnostic(
        "unraised",
        site,
        write.op,
        message,
        Severity.WARNING,
        related,
        failure,
        "",
        "Recorded at run time by `gradguard trace --all` (this run did not raise).",
    )
    return RuntimeFinding(site, diag, related, "unraised")


def _data_finding(write: WriteRecord) -> RuntimeFinding | None:
    if write.site is None:
        return None
    message = (
        f"`{_segment(write.site)}` writes through `.data` of a tensor that requires grad: "
        "autograd does not see this write"
    )
    diag = _diagnostic(
        "data",
        write.site,
        write.op,
        message,
        Severity.WARNING,
        [],
        None,
        "",
        "Recorded at run time.",
    )
    return RuntimeFinding(write.site, diag, [], "data")


def build(result: TraceResult) -> list[RuntimeFinding]:
    findings = [f for f in map(_failure_finding, result.failures) if f is not None]
    findings += [
        f for f in (_failure_finding(c, caught=True) for c in result.caught) if f is not None
    ]
    findings += [f for f in map(_unraised_finding, result.unraised) if f is not None]
    findings += [f for f in map(_data_finding, result.data_writes) if f is not None]
    return findings


def _file_report(finding: RuntimeFinding) -> FileReport:
    site = finding.site
    fix = finding.diagnostic.preferred_fix
    fix = fix if fix is not None and fix.is_safe else None  # "[*]" as in check: a safe fix
    return FileReport(
        path=display_path(site.file),
        absolute=os.path.abspath(site.file),
        findings=[Finding(finding.diagnostic, fix=fix)],
        source=_read(site.file) or "",
    )


def render_text(findings: list[RuntimeFinding], *, color: bool = False) -> str:
    """The CLI's text format; '' when there is nothing to say."""
    if not findings:
        return ""
    from ..output.text import render

    reports = [_file_report(f) for f in findings]
    body = render(reports, RenderOptions(color=color, unsafe_fixes=True, quiet=True))
    errors = sum(1 for f in findings if f.diagnostic.severity is Severity.ERROR)
    head = "gradguard trace: "
    if errors:
        head += "the autograd error above comes from an in-place write:"
    else:
        head += f"{len(findings)} in-place write(s) that would break autograd:"
    return f"\n{head}\n\n{body}"


def _location(site: Site) -> dict[str, Any]:
    return {
        "filename": os.path.abspath(site.file),
        "location": {"row": site.line, "column": site.col + 1},
        "end_location": {
            "row": site.end_line or site.line,
            "column": max(site.end_col, site.col) + 1,
        },
    }


def json_objects(findings: list[RuntimeFinding]) -> list[dict[str, Any]]:
    """``gradguard check --format json`` objects, plus the runtime extras."""
    from ..output.json import finding_object, location

    out = []
    for finding in findings:
        report = _file_report(finding)
        obj = finding_object(report, report.findings[0])
        diag = finding.diagnostic
        obj["source"] = RUNTIME_SOURCE
        obj["kind"] = finding.kind
        obj["source_line"] = finding.site.text
        obj["fixes"] = [
            {
                "message": f.title,
                "applicability": f.applicability.value,
                "preferred": f.preferred,
                "edits": [
                    {
                        "content": e.new_text,
                        "location": location(e.range.start),
                        "end_location": location(e.range.end),
                    }
                    for e in f.edits
                ],
            }
            for f in diag.fixes
        ]
        obj["related"] = [
            {**_location(site), "message": text, "source_line": site.text}
            for site, text in finding.related
        ]
        obj["runtime_message"] = diag.runtime_message
        obj["explanation"] = diag.explanation
        out.append(obj)
    return out


def prepare_folder(path: str) -> None:
    """Create the report's folder (``.gradguard/`` ignores itself in git).

    Called before the program runs: a file watcher (the editor's) that learns of a new
    folder only as the report lands in it can miss the report.
    """
    folder = Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if folder.name == ".gradguard" and not ignore.exists():
        ignore.write_text("# written by gradguard trace\n*\n", encoding="utf-8")


def write_json(findings: list[RuntimeFinding], path: str) -> None:
    target = Path(path)
    prepare_folder(path)
    text = json.dumps(json_objects(findings), indent=2, ensure_ascii=False) + "\n"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
