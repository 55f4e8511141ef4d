"""One small adapter per engine: connect, load raw files as text, execute, read back."""

from __future__ import annotations

from typing import Any, Protocol

from ..raw import RawFile


class EngineError(Exception):
    """The engine refused a statement or could not be reached; the message says why."""


class Engine(Protocol):
    dialect: str

    def execute(self, sql: str) -> None: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def load_raw(self, raw: RawFile) -> None: ...

    def close(self) -> None: ...


def scalar(engine: Engine, sql: str) -> Any:
    result = engine.rows(sql)
    return result[0][0] if result else None
