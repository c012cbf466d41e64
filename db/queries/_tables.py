"""Typed access to what SQLModel sets at run time but its type stubs do not declare."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result, Table
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """A table model's ``Table``, for Core statements (bulk upserts, raw columns)."""
    table = model.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass
    return cast(Table, table)


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (``session.execute`` is typed as returning a
    plain ``Result``; for those statements it is a ``CursorResult``)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
