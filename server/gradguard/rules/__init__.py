"""The rule registry: one module per rule, each exporting ``RULE``."""

from __future__ import annotations

import importlib
from functools import cache

from .base import Invalid, Rule, Valid

RULE_MODULES = (
    "gg101_inplace_method",
    "gg102_augmented_assignment",
    "gg103_index_assignment",
    "gg104_inplace_on_view",
    "gg105_saved_tensor_modified",
    "gg106_inplace_flag",
    "gg107_out_argument",
    "gg108_data_access",
    "gg109_multi_output_view",
    "gg110_no_grad_view",
)


@cache
def all_rules() -> tuple[Rule, ...]:
    rules = []
    for name in RULE_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        rules.append(module.RULE)
    return tuple(rules)


def get_rule(code: str) -> Rule | None:
    code = code.strip().upper()
    return next((r for r in all_rules() if r.code == code), None)


__all__ = ["Invalid", "Rule", "Valid", "all_rules", "get_rule"]
