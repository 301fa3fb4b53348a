"""nn modules and functionals as the dataflow needs them: plain dicts from the op table.

Keys: ``op`` (the torch op it runs), ``inplace_param`` / ``inplace_index`` (its inplace
flag), ``has_parameters``, ``saves_input``, ``saves_output``.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

try:
    from .. import optable as _table
except ImportError:  # pragma: no cover
    _table = None  # type: ignore[assignment]


def _as_dict(info: object) -> dict[str, Any]:
    if info is None:
        return {}
    if isinstance(info, dict):
        return info
    return dataclasses.asdict(info)  # type: ignore[call-overload]


@cache
def module_info(name: str) -> dict[str, Any] | None:
    if _table is None:
        return None
    info = _table.module_info(name)
    return _as_dict(info) if info is not None else None


@cache
def functional_info(name: str) -> dict[str, Any] | None:
    if _table is None:
        return None
    info = _table.functional_info(name)
    return _as_dict(info) if info is not None else None


def constructor_accepts(name: str, n_positional: int, keywords: tuple[str, ...]) -> bool | None:
    """Does `torch.nn.<name>(…)` bind its constructor (None: unknown class)?"""
    if _table is None:
        return None
    return _table.constructor_accepts(name, n_positional, keywords)
