"""Which writes the jedi tier asks about: only those whose answer can change a finding."""

from __future__ import annotations

from gradguard.analysis.dataflow import Dataflow
from gradguard.analysis.driver import parse
from gradguard.analysis.jedi_refine import questions
from gradguard.text import split_lines


def _asked_lines(source: str) -> set[int]:
    flow = Dataflow(parse(source), split_lines(source), path=None)
    flow.run()
    return {site.target_node.start_pos[0] for site in questions(flow)}


def test_an_index_write_by_a_string_key_asks_nothing():
    # A tensor cannot be indexed by a string: `params["weight"] = …` writes into a mapping.
    source = (
        "import json\n"
        'params = json.loads("{}")\n'
        'params["weight"] = 1.0\n'
        'params[f"w{0}"] = 1.0\n'
        'params["a" "b"] = 1.0\n'
        "params[0] = 1.0\n"
        "params[0:1] = 1.0\n"
    )
    assert _asked_lines(source) == {6, 7}
