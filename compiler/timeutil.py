"""The run's as-of time: what `current_date`, `current_timestamp` and `now()` mean (UTC, naive)."""

from __future__ import annotations

import datetime as dt

import click


def parse_as_of(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a timestamp; use YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS'",
                                 param_hint="--as-of") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment
