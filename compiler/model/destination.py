"""kind: destination — a channel and platform that audiences are synced to."""

from __future__ import annotations

from typing import Literal

from .base import Strict, Versioned
from .consent import Channel

Platform = Literal["generic", "meta_custom_audiences", "google_customer_match"]


class Sync(Strict):
    segment: str
    purpose: str
    cadence: Literal["realtime", "hourly", "daily", "weekly"] = "daily"
    mode: Literal["mirror", "upsert", "append"] = "mirror"


class Destination(Versioned):
    kind: Literal["destination"]
    channel: Channel
    platform: Platform = "generic"
    identifiers: list[str] = []
    fields: list[str] = []
    hash: Literal["none", "sha256"] = "none"
    syncs: list[Sync] = []
