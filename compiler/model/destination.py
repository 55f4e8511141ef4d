"""kind: destination — a channel and platform that audiences are synced to."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Strict, Versioned
from .consent import Channel

Platform = Literal["generic", "meta_custom_audiences", "google_customer_match"]


class Sync(Strict):
    segment: str
    purpose: str
    cadence: Literal["realtime", "hourly", "daily", "weekly"] = "daily"
    mode: Literal["mirror", "upsert", "append"] = "mirror"
    # a run holds the sync (publishes nothing of it) when more than this share of its
    # published audience would leave it (docs/reference.md §5.3)
    max_remove: float = Field(default=0.5, ge=0, le=1)


class Destination(Versioned):
    kind: Literal["destination"]
    channel: Channel
    platform: Platform = "generic"
    identifiers: list[str] = []
    fields: list[str] = []
    hash: Literal["none", "sha256"] = "none"
    syncs: list[Sync] = []
