"""The four output formats, on hand-built reports (no analysis needed) and end to end."""

from __future__ import annotations

import json

import pytest

from gradguard.model import (
    Applicability,
    Diagnostic,
    Fix,
    Range,
    RelatedInfo,
    Severity,
    TextEdit,
)
from gradguard.output import FileReport, Finding, RenderOptions, renderer
from gradguard.output.github import escape_data, escape_property

SOURCE = "import torch\nw = torch.zeros(3, requires_grad=True)\nw.add_(1)\n"


def _diag(severity: Severity = Severity.ERROR, fixes: tuple[Fix, ...] | None = None) -> Diagnostic:
    rng = Range.of(2, 0, 2, 9)
    if fixes is None:
        fixes = (
            Fix("Rewrite as `w = w.add(1)`", (TextEdit(rng, "w = w.add(1)"),), preferred=True),
            Fix(
                "Wrap in `with torch.no_grad():`",
                (TextEdit(Range.of(2, 0, 2, 0), "with torch.no_grad():\n    "),),
                Applicability.UNSAFE,
            ),
        )
    return Diagnostic(
        code="GG101",
        message="`w.add_` modifies a leaf that requires grad",
        range=rng,
        severity=severity,
        fixes=fixes,
        related=(RelatedInfo(Range.of(1, 0, 1, 1), "`w` requires grad: `requires_grad=True`"),),
        noqa_edit=TextEdit(Range.of(2, 9, 2, 9), "  # noqa: GG101"),
        url="https://example.org/GG101.md",
        name="inplace-on-grad-leaf",
    )


def _report(*findings: Finding, path: str = "pkg/model.py") -> FileReport:
    return FileReport(path=path, absolute="/abs/" + path, findings=list(findings), source=SOURCE)


def _finding(diag: Diagnostic | None = None, cell: int | None = None) -> Finding:
    diag = diag or _diag()
    fix = next((f for f in diag.fixes if f.is_safe), None)
    return Finding(diag, cell, fix)


def test_text_shows_location_caret_fix_and_summary() -> None:
    out = renderer("text")([_report(_finding())], RenderOptions())
    lines = out.splitlines()
    assert lines[0] == (
        "pkg/model.py:3:1: error[GG101] [*] `w.add_` modifies a leaf that requires grad"
    )
    assert "3 | w.add_(1)" in out
    assert "  | ^^^^^^^^^ GG101" in out
    assert "= help: Rewrite as `w = w.add(1)`" in out
    assert "= help: Wrap in `with torch.no_grad():` (unsafe fix)" in out
    assert "= note: line 2: `w` requires grad" in out
    assert lines[-1] == "Found 1 error (1 fixable with --fix)."
    assert "\x1b[" not in out


def test_text_without_safe_fix_has_no_star_and_mentions_unsafe_fixes() -> None:
    unsafe_only = _diag(
        fixes=(Fix("Wrap", (TextEdit(Range.of(2, 0, 2, 0), "x"),), Applicability.UNSAFE),)
    )
    out = renderer("text")([_report(Finding(unsafe_only, None, None))], RenderOptions())
    assert "[*]" not in out
    assert "pkg/model.py:3:1: error[GG101] `w.add_`" in out
    assert "Found 1 error." in out
    assert "1 hidden fix can be enabled with the --unsafe-fixes option." in out


def test_text_colour_only_when_asked_and_clean_summary() -> None:
    coloured = renderer("text")([_report(_finding())], RenderOptions(color=True))
    assert "\x1b[1;31merror[GG101]\x1b[0m" in coloured
    assert renderer("text")([_report()], RenderOptions()) == "All checks passed!\n"


def test_text_notebook_location_and_fix_mode_summary() -> None:
    report = FileReport(
        path="nb.ipynb",
        absolute="/abs/nb.ipynb",
        findings=[_finding(cell=4)],
        cell_sources={4: SOURCE},
        fixes_applied=2,
    )
    out = renderer("text")([report], RenderOptions(fix_mode=True))
    assert out.startswith("nb.ipynb:cell 4:3:1: error[GG101] [*]")
    assert "3 | w.add_(1)" in out
    assert out.rstrip().endswith("Found 3 findings (2 fixed, 1 remaining: 1 error).")


def test_text_statistics_per_rule_and_severity_with_the_summary() -> None:
    warn = _finding(_diag(Severity.WARNING))
    reports = [_report(warn, _finding(), warn)]
    out = renderer("text")(reports, RenderOptions(statistics=True))
    assert out.splitlines() == [
        "2\tGG101\twarning\t[*] inplace-on-grad-leaf",
        "1\tGG101\terror\t[*] inplace-on-grad-leaf",
        "Found 1 error and 2 warnings (3 fixable with --fix).",
    ]
    quiet = renderer("text")(reports, RenderOptions(statistics=True, quiet=True))
    assert quiet.splitlines() == out.splitlines()[:2]


def test_text_severity_is_a_label_of_its_own() -> None:
    text = renderer("text")([_report(_finding(_diag(Severity.WARNING)))], RenderOptions())
    head = text.splitlines()[0]
    assert head == (
        "pkg/model.py:3:1: warning[GG101] [*] `w.add_` modifies a leaf that requires grad"
    )
    assert "(warning)" not in text
    assert text.rstrip().endswith("Found 1 warning (1 fixable with --fix).")
    hint = _finding(_diag(Severity.HINT))
    mixed = renderer("text")([_report(hint, _finding(), hint)], RenderOptions())
    assert "pkg/model.py:3:1: hint[GG101] [*]" in mixed
    assert mixed.rstrip().endswith("Found 1 error and 2 hints (3 fixable with --fix).")
    info = Finding(_diag(Severity.INFO), None, None)
    three = renderer("text")(
        [_report(_finding(), _finding(_diag(Severity.WARNING)), info)], RenderOptions()
    )
    assert "Found 1 error, 1 warning and 1 info (2 fixable with --fix)." in three
    coloured = renderer("text")(
        [_report(_finding(_diag(Severity.WARNING)))], RenderOptions(color=True)
    )
    assert "\x1b[1;33mwarning[GG101]\x1b[0m" in coloured


def test_text_fix_mode_counts_what_remains_by_severity() -> None:
    report = _report(_finding(_diag(Severity.WARNING)))
    report.fixes_applied = 2
    out = renderer("text")([report], RenderOptions(fix_mode=True))
    assert out.rstrip().endswith("Found 3 findings (2 fixed, 1 remaining: 1 warning).")
    report.findings = []
    out = renderer("text")([report], RenderOptions(fix_mode=True))
    assert out == "Found 2 findings (2 fixed, 0 remaining).\n"


def test_json_is_ruffs_shape_plus_severity() -> None:
    data = json.loads(renderer("json")([_report(_finding())], RenderOptions()))
    assert isinstance(data, list) and len(data) == 1
    item = data[0]
    assert set(item) >= {
        "filename",
        "code",
        "message",
        "location",
        "end_location",
        "fix",
        "noqa_row",
        "url",
        "severity",
        "cell",
        "name",
    }
    assert item["filename"] == "/abs/pkg/model.py"
    assert item["location"] == {"row": 3, "column": 1}
    assert item["end_location"] == {"row": 3, "column": 10}
    assert item["severity"] == "error"
    assert item["noqa_row"] == 3
    assert item["cell"] is None
    assert item["fix"] == {
        "applicability": "safe",
        "message": "Rewrite as `w = w.add(1)`",
        "edits": [
            {
                "content": "w = w.add(1)",
                "location": {"row": 3, "column": 1},
                "end_location": {"row": 3, "column": 10},
            }
        ],
    }


def test_json_fix_null_and_severity_labels() -> None:
    reports = [
        _report(Finding(_diag(Severity.INFO, fixes=()), None, None)),
        _report(Finding(_diag(Severity.HINT, fixes=()), 2, None), path="nb.ipynb"),
    ]
    data = json.loads(renderer("json")(reports, RenderOptions()))
    assert [d["fix"] for d in data] == [None, None]
    assert [d["severity"] for d in data] == ["info", "hint"]
    assert data[1]["cell"] == 2
    assert json.loads(renderer("json")([], RenderOptions())) == []


def test_sarif_2_1_0_with_rules_results_and_fixes() -> None:
    from gradguard.rules import all_rules

    problem = FileReport(path="bad.py", absolute="/abs/bad.py", problem="not valid UTF-8")
    doc = json.loads(
        renderer("sarif")([_report(_finding(_diag(Severity.WARNING))), problem], RenderOptions())
    )
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "gradguard"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.code for r in all_rules()]
    assert run["columnKind"] == "unicodeCodePoints"
    (result,) = run["results"]
    assert result["ruleId"] == "GG101"
    assert result["level"] == "warning"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pkg/model.py"
    assert location["region"] == {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 10}
    replacement = result["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "w = w.add(1)"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["message"]["text"] == "not valid UTF-8"


def test_github_annotations() -> None:
    reports = [
        _report(_finding(), _finding(_diag(Severity.WARNING))),
        FileReport(path="b,1.py", absolute="/abs/b,1.py", problem="50% bad\nreally"),
    ]
    lines = renderer("github")(reports, RenderOptions()).splitlines()
    assert lines[0] == (
        "::error file=pkg/model.py,line=3,col=1,endLine=3,endColumn=10,title=GG101::"
        "`w.add_` modifies a leaf that requires grad"
    )
    assert lines[1].startswith("::warning file=pkg/model.py,line=3,")
    assert lines[2] == "::error file=b%2C1.py,title=gradguard::50%25 bad%0Areally"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"
    assert escape_data("x\r\ny") == "x%0D%0Ay"


@pytest.mark.parametrize("name", ["text", "json", "sarif", "github"])
def test_every_format_renders_an_empty_run(name: str) -> None:
    out = renderer(name)([], RenderOptions())
    if name == "json":
        assert json.loads(out) == []
    elif name == "sarif":
        assert json.loads(out)["runs"][0]["results"] == []
    elif name == "text":
        assert out == "All checks passed!\n"
    else:
        assert out == ""


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        renderer("xml")


def test_partial_failures_are_reported_next_to_the_findings() -> None:
    """A rule that failed in a file: the file's other findings and one error for the failure."""
    report = _report(_finding())
    report.failures = ["internal error in GG110 at line 8 (RuntimeError: boom)"]
    lines = renderer("github")([report], RenderOptions()).splitlines()
    assert lines[0].startswith("::error file=pkg/model.py,line=3,")
    assert lines[1] == (
        "::error file=pkg/model.py,title=gradguard::"
        "internal error in GG110 at line 8 (RuntimeError: boom)"
    )
    run = json.loads(renderer("sarif")([report], RenderOptions()))["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["GG101"]
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and "GG110 at line 8" in note["message"]["text"]
