"""Services whose annotations stay strings until the container reads them.

Under ``from __future__ import annotations`` every annotation is a string,
and the container evaluates it in the module that defines the provider.
That only works for names at module level, so these providers live here
rather than inside the tests that use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated


class Settings:
    """Shares its short name with other test modules' ``Settings`` on purpose.

    The unknown-key message must then tell the two apart by module.
    """

    def __init__(self) -> None:
        self.dsn = "sqlite://"


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Api:
    # ``Cache`` is defined further down: a true forward reference.
    def __init__(self, database: Database, cache: Cache | None = None) -> None:
        self.database = database
        self.cache = cache


class Cache:
    pass


@dataclass
class Report:
    database: Database
    title: str = "daily"


class Pool:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.is_closed = False


def pool(database: Annotated[Database, "primary"]) -> Iterator[Pool]:
    made = Pool(database)
    yield made
    made.is_closed = True
