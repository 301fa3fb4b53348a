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


def test_a_receiver_made_by_a_tensor_op_asks_nothing():
    # `w.mul_(2).add_(1)`: jedi types `w.mul_(2)` from torch's stub (`-> Tensor`), never as a
    # Parameter; `w` itself is still asked about, and so is a user method's result.
    source = (
        "import json\n"
        'w = getattr(json.loads("{}"), "weight")\n'
        "w.mul_(2).add_(1)\n"
        "w.sum(2).gt_(0.0)\n"
        "w.first_weight().add_(1)\n"
    )
    flow = Dataflow(parse(source), split_lines(source), path=None)
    flow.run()
    asked = {site.target_text for site in questions(flow)}
    assert asked == {"w", "w.first_weight()"}


def test_a_tensor_from_a_state_dict_asks_nothing():
    # `state_dict()` holds detached tensors; `keep_vars=True` keeps the Parameters.
    source = (
        "import json\n"
        'net = json.loads("{}")\n'
        "for k, v in net.state_dict().items():\n"
        "    v.copy_(k)\n"
        "for w in net.state_dict().values():\n"
        "    w.add_(1)\n"
        "for k, p in net.state_dict(keep_vars=True).items():\n"
        "    p.add_(1)\n"
        "for k, q in net.items():\n"
        "    q.add_(1)\n"
    )
    assert _asked_lines(source) == {8, 10}
