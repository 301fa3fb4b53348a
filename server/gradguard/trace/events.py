"""What the recorder keeps: plain records, no torch objects (so reports never hold tensors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .sites import Site


@dataclass(eq=False)
class SaveRecord:
    """A tensor an autograd node saved for backward, when and where."""

    __slots__ = ("seq", "grad_fn", "attr", "op", "version", "shape", "dtype", "site", "__weakref__")

    seq: int
    grad_fn: str  # e.g. SigmoidBackward0
    attr: str  # what the node saved: self, other, result, mat1, …
    op: str  # the torch function called from user code (sigmoid, linear, …)
    version: int  # the tensor's version when saved
    shape: Any  # torch.Size (a tuple of ints)
    dtype: Any  # torch.dtype; str() for text
    site: Site | None


@dataclass(eq=False)
class WriteRecord:
    """An in-place write that reached a tensor some live node had saved at the same version."""

    seq: int
    op: str
    site: Site | None
    version_before: int
    version_after: int
    shape: tuple[int, ...]
    dtype: str
    flag: str | None  # "inplace" (inplace=True), "out" (out=), "data" (.data), None
    saves: list[SaveRecord] = field(default_factory=list)
    backward_after_save: bool = False  # a backward ran between the save and this write


@dataclass
class Failure:
    """An autograd in-place error the program raised, with what the recorder knows about it."""

    kind: str  # version | leaf | view_of_leaf | multi_view | custom_view | no_grad_view | out | …
    message: str  # PyTorch's message (first line)
    site: Site | None  # the culprit write (for version errors: the write that bumped it)
    op: str = ""
    flag: str | None = None
    shape: tuple[int, ...] = ()
    dtype: str = ""
    save: SaveRecord | None = None
    backward: Site | None = None  # the backward()/grad() call that raised
    origin: Site | None = None  # where the leaf got requires_grad / the view was made
    origin_what: str = ""
    version_before: int | None = None
    version_after: int | None = None
    unseen: str = ""  # why part of the story is missing (a region the tracer cannot see)
    raised_at: Site | None = None  # where PyTorch raised, when that is not the write itself


@dataclass
class TraceResult:
    """Everything a report is built from."""

    failures: list[Failure] = field(default_factory=list)
    unraised: list[WriteRecord] = field(default_factory=list)  # --all: writes on saved tensors
    data_writes: list[WriteRecord] = field(default_factory=list)  # --all: `.data` writes
    notes: list[str] = field(default_factory=list)  # --all: what the recorder could not read
    caught: list[Failure] = field(default_factory=list)  # --all: raised, caught by the program
