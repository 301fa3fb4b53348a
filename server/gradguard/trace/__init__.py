"""``gradguard trace``: run a program under PyTorch and name the in-place write that broke autograd.

Only ``recorder`` (and what it is loaded from: the ``trace`` command, the pytest plugin with
``--gradguard-trace``, the benchmark) imports torch; ``gradguard check`` and ``gradguard
server`` never load it.  Modules:

    sites.py          user-code locations: the innermost frame outside torch/ and gradguard/
    events.py         plain records (no torch): saves, writes, what failed
    recorder.py       the recorder (TorchFunctionMode + autograd graph metadata); imports torch
    report.py         records -> diagnostics with the static engine's fixes, text and JSON
    run.py            running SCRIPT / -m MODULE like ``python`` does, then reporting
    pytest_plugin.py  ``pytest --gradguard-trace``
"""

DEFAULT_REPORT = ".gradguard/trace.json"
RUNTIME_SOURCE = "gradguard (runtime)"
