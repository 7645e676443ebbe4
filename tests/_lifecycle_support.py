"""Small helpers shared by the lifecycle tests (not a test module).

Every wait in the lifecycle tests is bounded by `PATIENCE`: a correct
container never comes near it, and a broken one fails the test after it
instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

_T = TypeVar("_T")

PATIENCE = 5.0
"""Seconds any wait for something that should happen at once may take."""


def named(cls: type[_T]) -> type[_T]:
    """Give a class defined in a test the short name messages show.

    Messages name services by their qualified names, and a class defined
    inside a test function is ``test_x.<locals>.Database``; renaming it
    keeps the expected messages the ones users see for module-level classes.
    """
    cls.__qualname__ = cls.__name__
    return cls


async def hang() -> None:
    """Wait for an event that nobody sets: a hook that never finishes."""
    await asyncio.Event().wait()


async def wait_for(event: asyncio.Event) -> None:
    """Wait for ``event``, failing after `PATIENCE` instead of hanging."""
    async with asyncio.timeout(PATIENCE):
        await event.wait()


def wait_in_thread(event: threading.Event, what: str) -> None:
    """Block until ``event`` is set; raise after `PATIENCE` seconds."""
    if not event.wait(PATIENCE):
        message = f"gave up waiting for {what}"
        raise TimeoutError(message)


class _Watch(logging.Handler):
    def __init__(self, message: str) -> None:
        super().__init__(logging.DEBUG)
        self.message = message
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == self.message:
            self.seen.set()


@contextmanager
def log_line(message: str) -> Iterator[threading.Event]:
    """Yield an event that is set once "mainspring" logs ``message``.

    The container logs what happens on its event loop, such as a ``run()``
    body ending, after it has recorded it; waiting for the line is how a
    test knows the container has seen the event without polling.
    """
    logger = logging.getLogger("mainspring")
    watch = _Watch(message)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(watch)
    try:
        yield watch.seen
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)
