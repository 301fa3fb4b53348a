"""[tool.gradguard] discovery (nearest pyproject.toml upward), --config, CLI overrides, excludes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gradguard.cli import apply_cli_overrides, main
from gradguard.config import ConfigError, Settings
from gradguard.files import Candidate, MissingPath, discover
from gradguard.model import Severity
from gradguard.pyproject import ConfigFinder, load_config_file

BUGGY = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_nearest_pyproject_with_a_gradguard_table_wins(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", '[tool.gradguard]\nignore = ["GG108"]\n')
    _write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'x'\n")  # no table: skipped
    _write(tmp_path / "pkg" / "sub" / "pyproject.toml", '[tool.gradguard]\nfix-style = "arith"\n')
    finder = ConfigFinder()
    top = finder.for_file(_write(tmp_path / "pkg" / "a.py", ""))
    assert top.path == (tmp_path / "pyproject.toml").resolve()
    assert top.settings.ignore == ("GG108",)
    nested = finder.for_file(_write(tmp_path / "pkg" / "sub" / "deeper" / "b.py", ""))
    assert nested.path == (tmp_path / "pkg" / "sub" / "pyproject.toml").resolve()
    assert nested.settings.fix_style == "arith"
    assert nested.settings.ignore == ()  # no merging with the outer file, like ruff


def test_every_setting_is_read(tmp_path: Path) -> None:
    _write(
        tmp_path / "pyproject.toml",
        """[tool.gradguard]
select = ["GG1"]
ignore = ["GG108"]
extend-select = ["GG110"]
severity = { GG105 = "error", GG108 = "info" }
fix-style = "clone"
exclude = ["generated"]
extend-exclude = ["legacy/*.py"]
per-file-ignores = { "tests/*" = ["GG101"] }
""",
    )
    settings = ConfigFinder().for_directory(tmp_path).settings
    assert settings.select == ("GG1",)
    assert settings.ignore == ("GG108",)
    assert settings.extend_select == ("GG110",)
    assert settings.severity == {"GG105": Severity.ERROR, "GG108": Severity.INFO}
    assert settings.fix_style == "clone"
    assert settings.exclude == ("generated",)
    assert settings.extend_exclude == ("legacy/*.py",)
    assert settings.per_file_ignores == {"tests/*": ("GG101",)}


def test_directory_results_are_cached(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", '[tool.gradguard]\nignore = ["GG108"]\n')
    finder = ConfigFinder()
    first = finder.for_directory(tmp_path / "a")
    (tmp_path / "pyproject.toml").write_text('[tool.gradguard]\nignore = ["GG101"]\n')
    assert finder.for_directory(tmp_path / "a") is first
    assert ConfigFinder().for_directory(tmp_path / "a").settings.ignore == ("GG101",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.gradguard\n", "invalid TOML"),
        ('[tool.gradguard]\nfix-style = "bogus"\n', "fix-style"),
        ('[tool.gradguard]\nignores = ["GG101"]\n', "unknown key 'ignores'"),
        ('[tool.gradguard]\nseverity = { GG101 = "fatal" }\n', "unknown severity"),
        ("[tool]\ngradguard = 3\n", "must be a table"),
    ],
)
def test_broken_config_is_a_clear_error_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    _write(tmp_path / "pyproject.toml", text)
    with pytest.raises(ConfigError, match=message):
        ConfigFinder().for_directory(tmp_path)
    file = _write(tmp_path / "a.py", "x = 1\n")
    assert main(["check", str(file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradguard: error: ")
    assert "pyproject.toml" in err and message in err
    assert "Traceback" not in err


def test_explicit_config_file(tmp_path: Path) -> None:
    plain = _write(tmp_path / "gradguard.toml", 'ignore = ["GG101"]\n')
    assert load_config_file(plain).settings.ignore == ("GG101",)
    pyproject = _write(tmp_path / "cfg" / "pyproject.toml", '[tool.gradguard]\nselect = ["GG2"]\n')
    loaded = load_config_file(pyproject)
    assert loaded.settings.select == ("GG2",)
    assert ConfigFinder(loaded).for_directory(tmp_path / "elsewhere") is loaded
    with pytest.raises(ConfigError, match="not found"):
        load_config_file(tmp_path / "missing.toml")


def _args(**kw: object) -> argparse.Namespace:
    base = {"select": None, "ignore": None, "extend_select": None, "fix_style": None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_cli_flags_layer_over_config_like_ruff() -> None:
    config = Settings(select=("GG1",), ignore=("GG105",), extend_select=("GG2",))
    # --select replaces the whole selection (config ignores included)
    replaced = apply_cli_overrides(config, _args(select=["GG105"]))
    assert (
        replaced.select == ("GG105",) and replaced.ignore == () and replaced.rule_enabled("GG105")
    )
    # --ignore adds to the config's ignores
    more = apply_cli_overrides(config, _args(ignore=["GG101"]))
    assert more.ignore == ("GG105", "GG101")
    assert not more.rule_enabled("GG101") and not more.rule_enabled("GG105")
    # --extend-select re-enables a code the config ignored
    back = apply_cli_overrides(config, _args(extend_select=["GG105"]))
    assert back.rule_enabled("GG105")
    assert apply_cli_overrides(config, _args(fix_style="arith")).fix_style == "arith"


def test_discovery_walks_py_and_ipynb_and_respects_excludes(tmp_path: Path) -> None:
    _write(
        tmp_path / "pyproject.toml",
        '[tool.gradguard]\nexclude = ["generated"]\nextend-exclude = ["pkg/legacy_*.py"]\n',
    )
    for rel in [
        "pkg/a.py",
        "pkg/nb.ipynb",
        "pkg/notes.txt",
        "pkg/stub.pyi",
        "pkg/legacy_x.py",
        "pkg/generated/g.py",
        ".venv/lib/v.py",
        "pkg/__pycache__/c.py",
        "build/b.py",
        "z.py",
    ]:
        _write(tmp_path / rel, "")
    found = [c for c in discover([tmp_path], ConfigFinder()) if isinstance(c, Candidate)]
    names = sorted(c.path.resolve().relative_to(tmp_path.resolve()).as_posix() for c in found)
    assert names == ["pkg/a.py", "pkg/nb.ipynb", "z.py"]
    # a file named explicitly is always checked; a missing one is reported
    explicit = list(
        discover([tmp_path / "pkg/generated/g.py", tmp_path / "nope.py"], ConfigFinder())
    )
    assert isinstance(explicit[0], Candidate) and explicit[0].explicit
    assert isinstance(explicit[1], MissingPath)


def test_walk_root_inside_a_default_excluded_name_is_still_walked(tmp_path: Path) -> None:
    _write(tmp_path / "build" / "proj" / "m.py", "")
    found = [c for c in discover([tmp_path / "build" / "proj"], ConfigFinder())]
    assert [c.path.name for c in found if isinstance(c, Candidate)] == ["m.py"]


def test_engine_path_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", '[tool.gradguard]\nselect = ["GG"]\n')
    file = _write(tmp_path / "tests" / "test_x.py", "")
    (candidate,) = list(discover([file], ConfigFinder()))
    assert candidate.engine_path == "tests/test_x.py"


def test_per_file_ignores_and_select_apply_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(
        tmp_path / "pyproject.toml",
        '[tool.gradguard]\nper-file-ignores = { "tests/*" = ["GG101"] }\n',
    )
    ignored = _write(tmp_path / "tests" / "test_model.py", BUGGY)
    flagged = _write(tmp_path / "src" / "model.py", BUGGY)
    assert main(["check", "--format", "json", str(ignored)]) == 0
    assert main(["check", "--format", "json", str(flagged)]) == 1
    assert main(["check", "--ignore", "GG1", str(flagged)]) == 0
    assert main(["check", "--select", "GG2", str(flagged)]) == 0
    capsys.readouterr()
    _write(tmp_path / "pyproject.toml", '[tool.gradguard]\nseverity = { GG101 = "warning" }\n')
    assert main(["check", "--format", "json", str(flagged)]) == 1
    import json

    assert {d["severity"] for d in json.loads(capsys.readouterr().out)} == {"warning"}


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    _write(tmp_path / "pkg" / "a.py", "")
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = [c for c in discover([tmp_path], ConfigFinder()) if isinstance(c, Candidate)]
    assert [c.path.name for c in found] == ["a.py"]
