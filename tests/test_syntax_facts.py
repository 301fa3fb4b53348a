"""The facts of a tree's syntax (``analysis.syntax_facts``) are computed once per tree: a
tree cached by its text shares them with every later analysis in the process, drops them
when the parse cache drops the tree, and a tree the language server re-parses
incrementally never shares them (its nodes are reused across edits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradguard.analysis import modules, syntax_facts
from gradguard.analysis.driver import analyze, parse
from gradguard.analysis.modules import parsed_tree
from gradguard.analysis.syntax_facts import facts_of
from gradguard.config import Settings
from gradguard.text import split_lines

LIGHTNING = """import torch
import lightning as L


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def training_step(self, batch, idx):
        y = self.fc(batch).sigmoid()
        y.mul_(2)
        return y.sum()
"""
# The same class with Lightning's automatic optimization turned off: its training_step's
# returned loss is no longer backpropagated by the framework, so the write is a warning.
MANUAL = LIGHTNING.replace(
    "        self.fc = torch.nn.Linear(4, 4)\n",
    "        self.fc = torch.nn.Linear(4, 4)\n        self.automatic_optimization = False\n",
)


def _findings(source: str, **kw: object) -> list[tuple[str, int, str]]:
    result = analyze(source, Settings(), **kw)  # type: ignore[arg-type]
    return sorted((d.code, d.range.start.line, d.severity.name) for d in result.diagnostics)


def test_the_two_texts_differ_in_what_the_fact_decides() -> None:
    assert _findings(LIGHTNING) == [("GG105", 11, "ERROR")]
    assert _findings(MANUAL) == [("GG105", 12, "WARNING")]


def test_a_cached_tree_answers_each_fact_once_across_analyses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[object] = []
    compute = syntax_facts._manual_optimization

    def counted(classdef: object) -> bool:
        asked.append(classdef)
        return compute(classdef)

    monkeypatch.setattr(syntax_facts, "_manual_optimization", counted)
    # The comment names the attribute, so the class's text has to be searched.
    source = LIGHTNING + "\n# a text no other test parses: automatic_optimization stays on\n"
    first = _findings(source)
    second = _findings(source)
    assert first == second == [("GG105", 11, "ERROR")]
    assert len(asked) == 1  # one class, one tree: asked by the first analysis only
    # A file whose text never names it has no class to search.
    assert _findings(LIGHTNING + "\n# another text no other test parses\n") == first
    assert len(asked) == 1
    tree = parsed_tree(source)
    assert facts_of(tree, split_lines(source)) is facts_of(tree, split_lines(source))


def test_an_evicted_tree_takes_its_facts_along(monkeypatch: pytest.MonkeyPatch) -> None:
    a = "x = 1\n# evicted first\n"
    b = "y = 2\n# evicted second\n"
    monkeypatch.setattr(modules, "PARSED_CHARS", len(a) + len(b) - 1)
    tree_a = parsed_tree(a)
    assert facts_of(tree_a, split_lines(a)) is facts_of(tree_a, split_lines(a))
    parsed_tree(b)  # over the budget: `a` goes
    assert id(tree_a) not in syntax_facts._shared
    fresh = facts_of(tree_a, split_lines(a))
    assert fresh is not facts_of(tree_a, split_lines(a))  # no longer shared
    assert fresh.bound_names() == {"x"}


def test_an_incremental_tree_never_shares_its_facts(tmp_path: Path) -> None:
    path = str(tmp_path / "edited.py")
    before = parse(LIGHTNING, path, incremental=True)
    assert id(before) not in syntax_facts._shared
    assert not facts_of(before, split_lines(LIGHTNING)).manual_optimization(_classdef(before))
    # The edit lands inside the class, whose other nodes parso's diff parser reuses: the
    # facts of the new tree follow the new text.
    after = parse(MANUAL, path, incremental=True)
    assert facts_of(after, split_lines(MANUAL)).manual_optimization(_classdef(after))
    assert _findings(MANUAL, path=path, incremental=True) == _findings(MANUAL)
    assert _findings(LIGHTNING, path=path, incremental=True) == _findings(LIGHTNING)


def test_facts_of_loops_and_generators() -> None:
    source = (
        "def gen(xs):\n"
        "    for i, (a, b) in enumerate(xs):\n"
        "        self.step += 1\n"
        "        total: int = a\n"
        "        with open(b) as f:\n"
        "            yield (n := i)\n"
        "\n"
        "def plain(xs):\n"
        "    def inner():\n"
        "        yield 1\n"
        "    return inner\n"
    )
    tree = parsed_tree(source)
    facts = facts_of(tree, split_lines(source))
    gen, plain = (c for c in tree.children if c.type == "funcdef")
    loop = gen.children[-1].children[1]
    assert facts.assigned_in(loop.children[-1]) == {"self.step", "total", "f", "n"}
    assert facts.assigned_in(loop) == {"i", "a", "b", "self.step", "total", "f", "n"}
    assert facts.is_generator(gen)
    assert not facts.is_generator(plain)  # only its inner function yields
    assert facts.bound_names() >= {"gen", "plain", "inner", "xs", "i", "a", "b", "f", "n"}


def _classdef(tree: object) -> object:
    return next(c for c in tree.children if c.type == "classdef")  # type: ignore[attr-defined]


def test_a_call_text_cut_short_is_the_start_of_its_whole_text() -> None:
    # Messages name a call by its first characters; they are read leaf by leaf instead of
    # making the whole text.  On real code (this package, and parso's error leaves for a
    # broken line), the short text is always the start of the whole one.
    from gradguard.analysis import nodes

    sources = [p.read_text() for p in sorted(Path(nodes.__file__).parent.glob("*.py"))]
    sources.append("x = f(a,\n    b  # c\n)\ny = g(  h(\n")  # an unfinished call
    checked = 0
    for source in sources:
        todo = [parse(source)]
        while todo:
            node = todo.pop()
            children = getattr(node, "children", None)
            if children is None:
                continue
            todo.extend(children)
            for limit in (1, 40, 60, 10_000):
                assert nodes._code_prefix(node, limit) == nodes._code(node)[:limit]
            checked += 1
    assert checked > 10_000


@pytest.mark.parametrize(
    ("test", "guard"),
    [
        ('__name__ == "__main__"', True),
        ("__name__=='__main__'", True),
        ('"__main__" == __name__', True),
        ('__name__ != "__main__"', False),
        ('__name__ == "__mp_main__"', False),
        ('name == "__main__"', False),
        ("a == b", False),
    ],
)
def test_only_a_main_guard_is_one(test: str, guard: bool) -> None:
    from gradguard.analysis.interpreter import _is_main_guard

    if_stmt = parse(f"if {test}:\n    pass\n").children[0]
    assert _is_main_guard(if_stmt.children[1]) is guard
