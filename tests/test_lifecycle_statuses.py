"""Health checks: ``statuses()`` and ``astatuses()`` in every phase."""

import asyncio

import pytest

from _lifecycle_support import named
from mainspring import Container, NotRunningError, StateError


def _services():
    """Three services registered out of start order; Cache is unhealthy."""
    unhealthy = ConnectionError("cache unreachable")

    @named
    class Settings:
        pass

    @named
    class Cache:
        def __init__(self, settings: Settings) -> None: ...

        def status(self):
            raise unhealthy

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        async def status(self):
            await asyncio.sleep(0)

    return Settings, Cache, Database, unhealthy


def test_statuses_follow_the_start_order():
    """The dict lists every singleton in ``container.order``."""
    settings, cache, database, _ = _services()
    container = Container(database, cache, settings)

    with container:
        statuses = container.statuses()

    assert list(statuses) == container.order == [settings, database, cache]


def test_statuses_are_none_when_healthy_and_the_error_when_not():
    """A status() that returns is healthy; what it raises is the status."""
    settings, cache, database, unhealthy = _services()
    container = Container(settings, cache, database)

    with container:
        statuses = container.statuses()

    assert statuses == {settings: None, cache: unhealthy, database: None}
    assert statuses[cache] is unhealthy


def test_statuses_before_start_say_not_started():
    """A service that has not started is not running, whatever its hook."""
    settings, cache, database, _ = _services()
    container = Container(settings, cache, database)

    statuses = container.statuses()

    assert [type(s) for s in statuses.values()] == [NotRunningError] * 3
    assert [str(s) for s in statuses.values()] == [
        "Settings is not running (not started)",
        "Cache is not running (not started)",
        "Database is not running (not started)",
    ]
    assert [s.service for s in statuses.values()] == [
        settings,
        cache,
        database,
    ]


def test_statuses_after_stop_say_stopped():
    """A stopped service is not running, and its hook is not called."""
    calls = []

    @named
    class Database:
        def status(self):
            calls.append("status")

    container = Container(Database)
    container.start()
    container.stop()

    statuses = container.statuses()

    assert calls == []
    assert str(statuses[Database]) == "Database is not running (stopped)"
    assert statuses[Database].__cause__ is None


def test_statuses_during_start_show_what_has_started():
    """Asked from a start hook, the services still to come are not running."""
    seen = {}

    @named
    class Settings:
        pass

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        def start(self):
            seen.update(container.statuses())

    container = Container(Settings, Database)

    with container:
        pass

    assert seen[Settings] is None
    assert str(seen[Database]) == "Database is not running (still starting)"


def test_statuses_during_stop_say_stopping():
    """Asked from a stop hook, no service counts as running any more."""
    seen = {}

    @named
    class Settings:
        pass

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        def stop(self):
            seen.update(container.statuses())

    container = Container(Settings, Database)

    with container:
        pass

    assert [str(s) for s in seen.values()] == [
        "Settings is not running (stopping)",
        "Database is not running (stopping)",
    ]


def test_statuses_from_a_thread_await_async_status_hooks():
    """Outside the loop, async status() hooks are run on it and awaited."""
    loops = []

    class Database:
        async def status(self):
            loops.append(asyncio.get_running_loop())
            raise OSError("replica lagging")

        async def start(self):
            loops.append(asyncio.get_running_loop())

    container = Container(Database)

    with container:
        statuses = container.statuses()

    assert loops[0] is loops[1]
    assert str(statuses[Database]) == "replica lagging"


def test_statuses_inside_the_loop_with_async_hooks_is_a_state_error():
    """statuses() cannot wait for its own loop; the error names astatuses."""
    settings, cache, database, _ = _services()
    seen = []

    async def main():
        async with Container(settings, cache, database) as container:
            with pytest.raises(StateError) as caught:
                container.statuses()
            seen.append(str(caught.value))

    asyncio.run(main())

    assert seen == [
        (
            "the status() of Database is async; inside the event loop, "
            "use 'await container.astatuses()'"
        )
    ]


def test_statuses_inside_the_loop_with_only_sync_hooks_works():
    """Without async status() hooks, the sync call is fine in the loop."""
    results = []

    class Database:
        def status(self):
            raise OSError("replica lagging")

    async def main():
        async with Container(Database) as container:
            results.append(container.statuses())

    asyncio.run(main())

    [statuses] = results
    assert str(statuses[Database]) == "replica lagging"


def test_astatuses_checks_sync_and_async_hooks():
    """The async twin gives the same answers, in the same order."""
    settings, cache, database, unhealthy = _services()
    results = []

    async def main():
        container = Container(database, cache, settings)
        results.append(await container.astatuses())
        async with container:
            results.append(await container.astatuses())
        results.append(await container.astatuses())

    asyncio.run(main())

    before, running, after = results
    assert list(before) == list(running) == list(after)
    assert list(running) == [settings, database, cache]
    assert running == {settings: None, database: None, cache: unhealthy}
    assert [str(s) for s in before.values()] == [
        "Settings is not running (not started)",
        "Database is not running (not started)",
        "Cache is not running (not started)",
    ]
    assert [str(s) for s in after.values()] == [
        "Settings is not running (stopped)",
        "Database is not running (stopped)",
        "Cache is not running (stopped)",
    ]


def test_astatuses_from_another_loop_runs_async_hooks_on_the_services_loop():
    """From a loop of its own, astatuses() awaits hooks where they belong."""
    loops = {}

    class Database:
        async def start(self):
            loops["services"] = asyncio.get_running_loop()

        async def status(self):
            loops["status"] = asyncio.get_running_loop()

    container = Container(Database)

    with container:
        statuses = asyncio.run(container.astatuses())

    assert statuses == {Database: None}
    assert loops["status"] is loops["services"]
