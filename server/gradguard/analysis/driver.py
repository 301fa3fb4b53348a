"""Entry point of the analysis (placeholder until the dataflow lands)."""

from __future__ import annotations

from ..config import Settings
from ..model import Diagnostic


def analyze(source: str, settings: Settings) -> list[Diagnostic]:
    return []
