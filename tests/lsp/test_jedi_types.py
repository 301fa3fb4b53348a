"""The jedi tier: kinds of expressions, one cached Script per text, budget, never raises."""

from __future__ import annotations

from pathlib import Path

from gradguard.analysis import jedi_types
from gradguard.analysis.jedi_types import JediTyper

SOURCE = """import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.w = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor):
        self.w
        self.fc.weight
        self.fc
        y = x.view(-1)
        n = 3
        return y
"""


def end_of(line: int) -> tuple[int, int]:
    return line, len(SOURCE.split("\n")[line])


def test_kinds_of_parameters_tensors_and_modules():
    typer = JediTyper()
    positions = [end_of(11), end_of(12), end_of(13), end_of(14), end_of(15), (15, 9)]
    kinds = typer.infer_kinds(SOURCE, "/tmp/gg_jedi_net.py", positions, budget_ms=60_000)
    assert kinds[end_of(11)] == "Parameter"  # self.w
    assert kinds[end_of(12)] == "Parameter"  # self.fc.weight
    assert kinds[end_of(13)] == "Module"  # self.fc
    assert kinds[end_of(14)] == "Tensor"  # y = x.view(-1)
    assert kinds[end_of(15)] == "other"  # n = 3
    script = typer._script
    typer.infer_kinds(SOURCE, "/tmp/gg_jedi_net.py", [end_of(11)], budget_ms=60_000)
    assert typer._script is script, "the Script of the same (path, text) is reused"
    typer.infer_kinds(SOURCE + "\n", "/tmp/gg_jedi_net.py", [end_of(11)], budget_ms=60_000)
    assert typer._script is not script


def test_budget_and_stop_check_end_the_questions_early():
    typer = JediTyper()
    assert typer.infer_kinds(SOURCE, None, [end_of(11)], budget_ms=0) == {}
    assert typer.infer_kinds(SOURCE, None, [end_of(11)], 60_000, should_stop=lambda: True) == {}


def test_never_raises_on_bad_positions_or_text():
    typer = JediTyper()
    assert typer.infer_kinds(SOURCE, None, [(999, 0), (0, 999), (-5, -5)], 60_000) == {}
    assert typer.infer_kinds("def (:\n\x00\ud800", "<string>", [(0, 3)], 60_000) == {}
    assert isinstance(jedi_types.infer_kinds("x = 1\n", None, [(0, 5)], 10_000), dict)


def test_jedi_reads_torch_but_not_the_libraries_the_table_covers(tmp_path):
    # transformers is installed in the test environment; jedi walking it (its lazy
    # auto-model mappings) took minutes per question.  Its sys.path holds torch only.
    links = jedi_types.jedi_sys_path()
    assert links, "the folder of links to torch could be made"
    names = sorted(p.name for p in Path(links[0]).iterdir())
    assert "torch" in names and "transformers" not in names and "lightning" not in names
    source = (
        "import torch\n"
        "from transformers import AutoModel\n"
        "model = AutoModel.from_config(None)\n"
        "model.embeddings\n"
        "torch.nn.Linear(2, 2).weight\n"
    )
    typer = JediTyper()
    kinds = typer.infer_kinds(source, str(tmp_path / "prog.py"), [(3, 16), (4, 28)], 60_000)
    assert kinds == {(4, 28): "Parameter"}


def test_parso_cache_files_are_written_atomically_and_bad_ones_are_misses(tmp_path):
    import parso
    import parso.cache

    jedi_types._make_parso_cache_process_safe()
    grammar = parso.load_grammar()
    source = tmp_path / "mod.py"
    source.write_text("x = 1\n")
    grammar.parse(path=str(source), cache=True, cache_path=tmp_path)
    written = list(tmp_path.rglob("*.pkl"))
    assert len(written) == 1 and not list(tmp_path.rglob("*.tmp"))
    written[0].write_bytes(written[0].read_bytes()[:10])  # another process mid-write
    parso.cache.parser_cache.clear()
    tree = grammar.parse(path=str(source), cache=True, cache_path=tmp_path)
    assert tree.get_code() == "x = 1\n"


def test_the_server_lane_can_abandon_the_questions_between_two_of_them():
    from gradguard.analysis.pacing import Superseded, pacing

    asked: list[int] = []

    def pacer() -> None:
        asked.append(1)
        if len(asked) > 1:
            raise Superseded

    typer = JediTyper()
    try:
        with pacing(pacer):
            typer.infer_kinds(SOURCE, "/tmp/gg_jedi_net.py", [end_of(11), end_of(12)], None)
    except Superseded:
        pass
    else:
        raise AssertionError("the pacer's Superseded did not stop the questions")
    assert len(asked) == 2
