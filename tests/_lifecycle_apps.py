"""Small applications that tests/test_signals.py runs in subprocesses.

Run one as ``python _lifecycle_apps.py SCENARIO``. Every line a service
prints is flushed at once, so the test reads the application's progress
as it happens: ``READY`` once serving, ``STARTING`` or ``STOPPING`` from a
hook that will never finish, and one ``stopped X`` line per stop hook. The
last line tells how ``run()`` ended: ``returned``, or the error's type,
message and service.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from mainspring import Container, MainspringError


def say(line: str) -> None:
    """Print a line for the test and make sure it leaves the process now."""
    print(line, flush=True)  # noqa: T201 - the test reads stdout


async def hang() -> None:
    """Wait for an event nobody sets."""
    await asyncio.Event().wait()


class Settings:
    def stop(self) -> None:
        say("stopped Settings")


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def stop(self) -> None:
        say("stopped Database")


class Consumer:
    """Serves until it is cancelled."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def run(self) -> None:
        say("READY")
        await hang()

    def stop(self) -> None:
        say("stopped Consumer")


class SlowStarter:
    """A start that never returns."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self) -> None:
        say("STARTING")
        await hang()

    def stop(self) -> None:
        say("stopped SlowStarter")


class SlowStopper:
    """A stop that never returns."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def stop(self) -> None:
        say("STOPPING")
        await hang()


class BrokenConsumer:
    """Fails as soon as it runs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def run(self) -> None:
        await asyncio.sleep(0)
        message = "lost connection"
        raise ConnectionError(message)

    def stop(self) -> None:
        say("stopped BrokenConsumer")


class Importer:
    """Does its work and returns."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def run(self) -> None:
        say("imported")

    def stop(self) -> None:
        say("stopped Importer")


def serve() -> None:
    Container(Settings, Database, Consumer).run()


def slow_start() -> None:
    Container(Settings, SlowStarter).run()


def slow_stop() -> None:
    Container(Settings, SlowStopper, Consumer, stop_timeout=None).run()


def failing_body() -> None:
    Container(Settings, Consumer, BrokenConsumer).run()


def bodies_return() -> None:
    Container(Settings, Importer).run()


def slow_start_under_with() -> None:
    with Container(Settings, SlowStarter):
        say("unreachable")


SCENARIOS: dict[str, Callable[[], None]] = {
    f.__name__: f
    for f in (
        serve,
        slow_start,
        slow_stop,
        failing_body,
        bodies_return,
        slow_start_under_with,
    )
}


def main(scenario: str) -> int:
    """Run ``scenario`` and report how it ended; return the exit status."""
    try:
        SCENARIOS[scenario]()
    except MainspringError as error:
        service = getattr(error, "service", None)
        name = service.__name__ if service is not None else None
        say(f"{type(error).__name__}: {error} [service={name}]")
        return 1
    except KeyboardInterrupt:
        say("KeyboardInterrupt")
        return 1
    say("returned")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
