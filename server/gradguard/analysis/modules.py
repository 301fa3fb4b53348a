"""Other files of the workspace: resolving imports to files, and their dataflows.

One ``Project`` per analysis of a file (the *root*).  An import of a module that resolves
to a Python file — beside the importing file, in its package, at the project root, or an
installed package's pure-Python source — gets a ``Dataflow`` of its own, run over the
module's top level only (its functions and classes are analysed when called).  Those
dataflows share the root's findings and call state, so a write found in another file
through a call lands in the root's sites with ``WriteSite.path`` set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .calls import CallState

if TYPE_CHECKING:
    from .dataflow import Dataflow


class Project:
    def __init__(self, root_path: str | None) -> None:
        self.root_path = root_path
        self.calls = CallState()
        self.root: Dataflow | None = None
        self.flows: dict[str, Dataflow | None] = {}

    def share_findings(self, flow: Dataflow) -> None:
        """A dataflow of another file reports into the root's lists."""
        root = self.root
        if root is None or root is flow:
            return
        flow.sites = root.sites
        flow.violations = root.violations
        flow.unknown_sites = root.unknown_sites
        flow.records = root.records
        flow._site_keys = root._site_keys
        flow._reported_violation_keys = root._reported_violation_keys
