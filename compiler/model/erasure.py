"""kind: erasure — the right to be forgotten: a contract of requests, one row per request.

Its fields say which identifier value to erase and since when.

A request names an identifier type of the identity and a value; the value is normalized like
its type. A run erases the profile (resolved with every record) that holds it: none of its
records, and no row carrying one of its values, appears in any table cdpc writes, and identity
is resolved again without them (docs/reference.md §2.13, docs/privacy.md §4). Requests dated
after the as-of time are ignored. The erasure source is read, never copied.
"""

from __future__ import annotations

from typing import Literal

from .base import Name, Versioned


class Erasure(Versioned):
    kind: Literal["erasure"]
    source: Name  # a contract, one row per request; used by nothing else
    type_field: Name  # the request's identifier type (`email`, `phone`, ...)
    value_field: Name  # the value to erase, as written (normalized like its type)
    time_field: Name  # when it was requested: requests after the as-of time are ignored
