"""Garbage-collector thresholds for gradguard's processes (the CLI and the language server).

An analysis allocates millions of small objects that live until it ends (parso trees,
abstract values, environments); with CPython's default thresholds (700, 10, 10) the
collector re-scans them hundreds of times per run and found 15-20 % of the CLI's CPU time
on torch/nn + optim, for almost no garbage: reference counting frees nearly everything.
Fewer, later collections keep that work out (reference cycles are still collected).
Results never depend on it: the analysis reads no object identities of freed objects.
"""

from __future__ import annotations

import gc

# Young-generation allocations before a collection, then the older generations' ratios.
THRESHOLDS = (20_000, 50, 50)


def tune() -> None:
    """Raise the collector's thresholds and move everything imported so far (modules,
    tables) out of its scans; idempotent."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
