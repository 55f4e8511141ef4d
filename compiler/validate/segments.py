"""Segment rules outside `where`: include/exclude name segments, purposes are declared, sizes make sense."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from .context import Context, duplicates, error, warning


def references(ctx: Context) -> Iterator[Diagnostic]:
    segments = ctx.defs.segments
    for segment in segments.values():
        for key in ("include", "exclude"):
            names = getattr(segment, key)
            for index, name in enumerate(names):
                if ctx.unknown("segment", name):
                    yield error("CDP204", f"`{key}` names unknown segment `{name}`", segment.loc(key, index),
                                did_you_mean(name, segments) or "declare it under definitions/segments/")
            for index, name in duplicates(names):
                yield warning("CDP217", f"segment `{name}` is listed twice in `{key}`", segment.loc(key, index),
                              "remove the repeat")


def purposes(ctx: Context) -> Iterator[Diagnostic]:
    declared = ctx.defs.purposes
    for segment in ctx.defs.segments.values():
        for index, purpose in enumerate(segment.purposes):
            if ctx.unknown_purpose(purpose):
                yield error("CDP205", f"purpose `{purpose}` is not declared by any consent", segment.loc("purposes", index),
                            did_you_mean(purpose, declared) or "declare it under a consent's `purposes`")


def expected_size(ctx: Context) -> Iterator[Diagnostic]:
    for segment in ctx.defs.segments.values():
        size = segment.expected_size
        if size and size.min is not None and size.max is not None and size.min > size.max:
            yield error("CDP103", f"expected_size min {size.min} is above max {size.max}",
                        segment.loc("expected_size", "min"), "swap them")


RULES = (references, purposes, expected_size)
