"""One exclude matcher for both faces: every pattern form leaves out the same files in
`gradguard check` (its walk) and in the language server (an open document)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from gradguard.exclude import is_excluded
from gradguard.files import Candidate, discover
from gradguard.lsp.server import GradguardServer
from gradguard.lsp.settings import SettingsResolver
from gradguard.pyproject import ConfigFinder

BASE = PurePosixPath("/p")


@pytest.mark.parametrize(
    ("pattern", "relative", "is_dir", "expected"),
    [
        ("gen", "gen/a.py", False, True),
        ("gen", "pkg/gen/a.py", False, True),
        ("gen", "pkg/gen", False, True),  # a file named gen
        ("gen", "generated/a.py", False, False),
        ("gen*", "generated/a.py", False, True),
        ("gen/", "pkg/gen/a.py", False, True),
        ("gen/", "pkg/gen", False, False),  # `/` at the end: folders only
        ("gen/", "pkg/gen", True, True),
        ("**/gen", "a/b/gen/c.py", False, True),
        ("./gen/", "gen/a.py", False, True),
        ("./gen/", "pkg/gen/a.py", False, False),  # `./` anchors at the base folder
        ("./gen", "gen", True, True),
        ("pkg/gen", "pkg/gen/a.py", False, True),
        ("pkg/gen", "src/pkg/gen/a.py", False, False),
        ("pkg/gen/", "pkg/gen/sub/a.py", False, True),
        ("gen/*.py", "gen/a.py", False, True),
        ("gen/*.py", "gen/sub/a.py", False, False),  # `*` stays inside one folder
        ("gen/*.py", "pkg/gen/a.py", False, False),
        ("a/**/gen", "a/gen/x.py", False, True),
        ("a/**/gen", "a/b/c/gen/x.py", False, True),
        ("/p/gen", "gen/a.py", False, True),  # absolute
        ("/elsewhere/gen", "gen/a.py", False, False),
        ("  ./gen/  ", "gen/a.py", False, True),
        ("", "gen/a.py", False, False),
        ("./", "gen/a.py", False, False),
    ],
)
def test_pattern_forms(pattern: str, relative: str, is_dir: bool, expected: bool) -> None:
    assert is_excluded(BASE / relative, BASE, [pattern], is_dir=is_dir) is expected


def test_outside_the_base_is_never_excluded() -> None:
    assert not is_excluded(PurePosixPath("/q/gen/a.py"), BASE, ["gen", "/q"])


def test_named_folders_are_never_matched() -> None:
    """`gradguard check build/proj`: the named folder's own path does not exclude it."""
    assert not is_excluded(BASE / "build/proj/m.py", BASE, ["build"], named=BASE / "build/proj")
    assert is_excluded(BASE / "build/proj/build/m.py", BASE, ["build"], named=BASE / "build/proj")
    assert not is_excluded(BASE / "pkg/gen/m.py", BASE, ["pkg/gen"], named=BASE / "pkg/gen")


FILES = ["gen/a.py", "pkg/gen/b.py", "other/gen/c.py", "src/gen_util.py", "keep.py"]
CASES = [
    ("gen", {"gen/a.py", "pkg/gen/b.py", "other/gen/c.py"}),
    ("gen/", {"gen/a.py", "pkg/gen/b.py", "other/gen/c.py"}),
    ("**/gen", {"gen/a.py", "pkg/gen/b.py", "other/gen/c.py"}),
    ("./gen/", {"gen/a.py"}),
    ("./gen", {"gen/a.py"}),
    ("pkg/gen", {"pkg/gen/b.py"}),
    ("pkg/gen/", {"pkg/gen/b.py"}),
    ("gen/*.py", {"gen/a.py"}),
    ("pkg/**/b.py", {"pkg/gen/b.py"}),
    ("src/gen_*.py", {"src/gen_util.py"}),
    ("{root}/other/gen", {"other/gen/c.py"}),
]


def _project(tmp_path: Path, pattern: str) -> Path:
    root = tmp_path.resolve() / "proj"
    pattern = pattern.replace("{root}", root.as_posix())
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n", encoding="utf-8")
    (root / "pyproject.toml").write_text(
        f"[tool.gradguard]\nexclude = [{pattern!r}]\n".replace("'", '"'), encoding="utf-8"
    )
    return root


@pytest.mark.parametrize(("pattern", "excluded"), CASES, ids=[c[0] for c in CASES])
def test_cli_and_server_exclude_the_same_files(
    tmp_path: Path, pattern: str, excluded: set[str]
) -> None:
    root = _project(tmp_path, pattern)
    walked = {
        c.path.resolve().relative_to(root).as_posix()
        for c in discover([root], ConfigFinder())
        if isinstance(c, Candidate)
    }
    assert set(FILES) - walked == excluded, "gradguard check"
    server = GradguardServer()
    resolver = SettingsResolver()
    in_editor = {
        rel
        for rel in FILES
        if server.is_excluded(str(root / rel), resolver.resolve(str(root / rel)))
    }
    assert in_editor == excluded, "gradguard server"


def test_per_file_ignores_match_the_project_relative_path_in_both_faces(tmp_path: Path) -> None:
    root = tmp_path.resolve() / "gen" / "proj"  # a folder named like the pattern above the root
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "t.py").write_text("x = 1\n", encoding="utf-8")
    (root / "pyproject.toml").write_text(
        '[tool.gradguard]\nper-file-ignores = {"gen/*" = ["GG101"], "./tests/*.py" = ["GG102"]}\n',
        encoding="utf-8",
    )
    resolver = SettingsResolver()
    inside = resolver.resolve(str(root / "tests" / "t.py")).settings
    engine_path = str(root / "tests" / "t.py")  # the server gives the engine the absolute path
    assert inside.rule_enabled("GG101", engine_path)
    assert not inside.rule_enabled("GG102", engine_path)
    (cli,) = discover([root / "tests" / "t.py"], ConfigFinder())
    assert isinstance(cli, Candidate)
    assert cli.settings.rule_enabled("GG101", cli.engine_path)
    assert not cli.settings.rule_enabled("GG102", cli.engine_path)
