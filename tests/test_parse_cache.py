"""The content-keyed parse cache (``modules.parsed_tree``) keeps one tree per path: the
newest text's.  An editor's document parsed at every version leaves only its current
tree (and the templates of other files made with it) behind; a text another path still
has stays; findings are those of a fresh process whatever the cache dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradguard.analysis import modules, snapshots
from gradguard.analysis.modules import parsed_tree
from gradguard.config import Settings
from gradguard.engine import check


def _cached(source: str) -> bool:
    return source in modules._parsed


def test_a_path_keeps_only_its_newest_tree(tmp_path: Path) -> None:
    path = str(tmp_path / "edited.py")
    versions = [f"x = {n}\n# parse cache: edited document\n" for n in range(5)]
    for text in versions:
        parsed_tree(text, path)
    assert _cached(versions[-1])
    assert not any(_cached(text) for text in versions[:-1])


def test_a_text_another_path_has_stays(tmp_path: Path) -> None:
    shared = "y = 1\n# parse cache: the same text in two files\n"
    a, b = str(tmp_path / "a.py"), str(tmp_path / "b.py")
    tree = parsed_tree(shared, a)
    assert parsed_tree(shared, b) is tree
    parsed_tree(shared + "y = 2\n", a)  # `a` was edited, `b` still has the text
    assert _cached(shared)
    parsed_tree(shared + "y = 3\n", b)
    assert not _cached(shared)


def test_a_tree_without_a_path_is_kept_by_size_only(tmp_path: Path) -> None:
    text = "z = 1\n# parse cache: no path\n"
    parsed_tree(text)
    parsed_tree(text + "z = 2\n", str(tmp_path / "z.py"))
    assert _cached(text)


LIB = "import torch\n\nw = torch.ones(3, requires_grad=True)\ny = w.sigmoid()\n"
ROOT = "from lib import y\n\ny.mul_(2)\ny.sum().backward()\n"


def _findings(path: Path, text: str) -> list[tuple[int, str]]:
    result = check(text, str(path), Settings(jedi=False))
    return sorted((d.range.start.line, d.code) for d in result.diagnostics)


def test_an_edited_file_drops_the_templates_made_with_its_older_text(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.gradguard]\n")
    lib, root = tmp_path / "lib.py", tmp_path / "root.py"
    root.write_text(ROOT)
    texts = [LIB + f"# version {n}\n" for n in range(4)]
    found = []
    for text in texts:  # lib.py edited (on disk) between checks of root.py
        lib.write_text(text)
        found.append(_findings(root, ROOT))
    assert found[0] == found[-1]
    assert "GG105" in {code for _, code in found[0]}
    kept = [key for key in snapshots._templates if key[0] == str(lib)]
    assert [text for _, text in kept] == [texts[-1]]
    assert not any(_cached(text) for text in texts[:-1])


def test_a_tree_dropped_for_size_takes_its_templates_along(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.gradguard]\n")
    lib, root = tmp_path / "lib.py", tmp_path / "root.py"
    lib.write_text(LIB)
    root.write_text(ROOT)
    before = _findings(root, ROOT)
    assert any(key[0] == str(lib) for key in snapshots._templates)
    monkeypatch.setattr(modules, "PARSED_CHARS", 1)
    parsed_tree("w = 0\n# parse cache: pushes every other tree out\n")
    assert not any(key[0] == str(lib) for key in snapshots._templates)
    assert not _cached(LIB)
    assert _findings(root, ROOT) == before
