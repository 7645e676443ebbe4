"""Failed starts and slow stops: rollback, start timeouts, stop budgets.

Timeouts are tiny and the hooks that overrun them wait for an event that
is never set, so no test sleeps and none depends on how fast the machine
is: the hook cannot finish on its own, only the budget can end it.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from _lifecycle_support import hang, named, wait_for, wait_in_thread
from mainspring import (
    Container,
    Registry,
    ShutdownError,
    StartupError,
)


@pytest.fixture
def release():
    """An event that frees blocked sync hooks once the test is over.

    A sync hook that overran its budget still holds a worker thread; the
    test sets nothing, and this lets the thread go afterwards.
    """
    event = threading.Event()
    yield event
    event.set()


# Rollback


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_failed_start_raises_startup_error_naming_the_service(is_async):
    """The error names the service, keeps the cause, and says what happened."""
    boom = RuntimeError("boom")

    @named
    class Database:
        if is_async:

            async def start(self):
                raise boom

        else:

            def start(self):
                raise boom

    container = Container(Database)

    with pytest.raises(StartupError) as caught:
        container.start()

    error = caught.value
    assert str(error) == (
        "Database failed to start: RuntimeError: boom; started services "
        "were stopped"
    )
    assert error.service is Database
    assert error.__cause__ is boom
    assert error.rollback_errors == []


def _noting(events, line, *, is_async=False):
    """A hook that records ``line``, sync or async."""
    if is_async:

        async def hook(self):
            events.append(line)

        return hook

    def hook(self):
        events.append(line)

    return hook


def test_failed_start_rolls_back_what_had_started_in_reverse():
    """Started services stop in reverse; the others are only torn down."""
    # Database fails: Api, built but never started, and Database itself
    # get their teardown and no stop().
    events = []

    class Settings:
        start = _noting(events, "Settings start")
        stop = _noting(events, "Settings stop")

    class Cache:
        start = _noting(events, "Cache start", is_async=True)
        stop = _noting(events, "Cache stop", is_async=True)

    def cache(settings: Settings) -> Iterator[Cache]:
        yield Cache()
        events.append("cache teardown")

    class Database:
        async def start(self):
            events.append("Database start")
            raise RuntimeError("boom")

        stop = _noting(events, "Database stop", is_async=True)

    async def database(cache: Cache) -> AsyncIterator[Database]:
        yield Database()
        events.append("database teardown")

    class Api:
        start = _noting(events, "Api start")
        stop = _noting(events, "Api stop")

    def api(database: Database) -> Iterator[Api]:
        yield Api()
        events.append("api teardown")

    container = Container(Settings, cache, database, api)

    with pytest.raises(StartupError):
        container.start()

    assert events == [
        "Settings start",
        "Cache start",
        "Database start",
        "api teardown",
        "database teardown",
        "Cache stop",
        "cache teardown",
        "Settings stop",
    ]


def test_rollback_failures_are_attached_to_the_startup_error():
    """A stop that fails during rollback is kept as an attribute and a note."""
    disk_full = OSError("disk full")

    class Cache:
        def stop(self):
            raise disk_full

    @named
    class Database:
        def __init__(self, cache: Cache) -> None: ...

        def start(self):
            raise RuntimeError("boom")

    container = Container(Cache, Database)

    with pytest.raises(StartupError) as caught:
        container.start()

    error = caught.value
    assert error.rollback_errors == [disk_full]
    assert error.__notes__ == ["during rollback: OSError: disk full"]


def test_a_raising_constructor_fails_the_start_naming_the_service():
    """Building happens before starting: a build failure starts nothing."""
    events = []
    unreachable = ConnectionError("no route to host")

    class Pool:
        def start(self):
            events.append("Pool start")

    def pool() -> Iterator[Pool]:
        yield Pool()
        events.append("pool teardown")

    @named
    class Database:
        def __init__(self, pool: Pool) -> None:
            raise unreachable

    container = Container(pool, Database)

    with pytest.raises(StartupError) as caught:
        container.start()

    error = caught.value
    assert str(error) == (
        "Database could not be built: ConnectionError: no route to host"
    )
    assert error.service is Database
    assert error.__cause__ is unreachable
    assert events == ["pool teardown"]


def test_a_raising_async_factory_fails_the_start_naming_its_service():
    """An async factory that raises is a build failure like any other."""

    @named
    class Client:
        pass

    async def client() -> Client:
        raise TimeoutError

    container = Container(client)

    with pytest.raises(StartupError) as caught:
        container.start()

    assert str(caught.value) == "Client could not be built: TimeoutError"
    assert caught.value.service is Client


def test_no_start_begins_after_a_failure():
    """An async start in flight is cancelled; what waits on it never starts."""
    events = []
    cache_began = asyncio.Event()

    class Cache:
        async def start(self):
            cache_began.set()
            try:
                await hang()
            except asyncio.CancelledError:
                events.append("Cache start cancelled")
                raise

        def stop(self):
            events.append("Cache stop")

    class Database:
        async def start(self):
            await wait_for(cache_began)
            raise RuntimeError("boom")

    class Api:
        def __init__(self, cache: Cache) -> None: ...

        def start(self):
            events.append("Api start")

    container = Container(Cache, Database, Api)

    with pytest.raises(StartupError) as caught:
        container.start()

    assert caught.value.service is Database
    assert caught.value.rollback_errors == []
    assert events == ["Cache start cancelled"]


def test_a_sync_start_in_flight_finishes_and_is_rolled_back():
    """A sync start cannot be cancelled: it returns, then it is stopped."""
    events = []
    cache_began = threading.Event()
    database_failing = threading.Event()

    class Cache:
        def start(self):
            cache_began.set()
            wait_in_thread(database_failing, "Database to fail")
            events.append("Cache start returns")

        def stop(self):
            events.append("Cache stop")

    class Database:
        async def start(self):
            await asyncio.to_thread(wait_in_thread, cache_began, "Cache")
            database_failing.set()
            raise RuntimeError("boom")

    class Api:
        def __init__(self, cache: Cache) -> None: ...

        def start(self):
            events.append("Api start")

    container = Container(Cache, Database, Api)

    with pytest.raises(StartupError) as caught:
        container.start()

    assert caught.value.service is Database
    assert events == ["Cache start returns", "Cache stop"]


def test_a_second_start_failure_is_kept_as_a_rollback_error():
    """A start in flight that fails after the first failure is not lost."""
    cache_began = threading.Event()
    database_failing = threading.Event()
    late = ValueError("bad configuration")

    @named
    class Cache:
        def start(self):
            cache_began.set()
            wait_in_thread(database_failing, "Database to fail")
            raise late

    @named
    class Database:
        async def start(self):
            await asyncio.to_thread(wait_in_thread, cache_began, "Cache")
            database_failing.set()
            raise RuntimeError("boom")

    container = Container(Cache, Database)

    with pytest.raises(StartupError) as caught:
        container.start()

    error = caught.value
    assert error.service is Database
    assert error.rollback_errors == [late]
    assert late.__notes__ == ["while starting Cache"]
    assert error.__notes__ == [
        "during rollback: ValueError: bad configuration"
    ]


# Start timeouts


def test_a_service_start_timeout_ends_a_start_that_hangs():
    """``@service(start_timeout=...)`` bounds that service's start()."""
    registry = Registry()

    @registry.service(start_timeout=0.05)
    @named
    class Database:
        async def start(self):
            await hang()

    container = Container(registry, start_timeout=None)

    with pytest.raises(StartupError) as caught:
        container.start()

    error = caught.value
    assert str(error) == (
        "Database did not start within 0.05s; started services were stopped"
    )
    assert error.service is Database
    assert isinstance(error.__cause__, TimeoutError)
    assert str(error.__cause__) == "Database did not start within 0.05s"


def test_the_container_start_timeout_applies_to_every_service():
    """``Container(start_timeout=...)`` bounds starts that set no limit."""
    events = []

    class Settings:
        def stop(self):
            events.append("Settings stop")

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        async def start(self):
            await hang()

        def stop(self):
            events.append("Database stop")

    container = Container(Settings, Database, start_timeout=0.05)

    with pytest.raises(StartupError) as caught:
        container.start()

    assert str(caught.value) == (
        "Database did not start within 0.05s; started services were stopped"
    )
    assert events == ["Settings stop"]


def test_a_sync_start_that_hangs_times_out(release):
    """A blocked sync start is given up on when its budget ends."""

    @named
    class Database:
        def start(self):
            release.wait()

    container = Container(Database, start_timeout=0.05)

    with pytest.raises(StartupError) as caught:
        container.start()

    assert str(caught.value) == (
        "Database did not start within 0.05s; started services were stopped"
    )


def test_a_timeout_raised_by_the_hook_is_a_failure_not_an_overrun():
    """A TimeoutError of the hook's own is reported as that error."""
    refused = TimeoutError("upstream did not answer")

    @named
    class Database:
        async def start(self):
            raise refused

    container = Container(Database, start_timeout=5.0)

    with pytest.raises(StartupError) as caught:
        container.start()

    assert str(caught.value) == (
        "Database failed to start: TimeoutError: upstream did not answer; "
        "started services were stopped"
    )
    assert caught.value.__cause__ is refused


def test_a_service_without_a_start_limit_outlasts_the_container_limit():
    """``@service(start_timeout=None)`` is not bound by the container's."""
    # Patient's start returns only after Impatient's budget has run out, so
    # it took longer than the container's limit, and still counts as
    # started: it is stopped, and not reported as a failure.
    events = []
    impatient_expired = threading.Event()
    registry = Registry()

    @registry.service(start_timeout=None)
    class Patient:
        def start(self):
            wait_in_thread(impatient_expired, "Impatient's budget to end")
            events.append("Patient start returns")

        def stop(self):
            events.append("Patient stop")

    @registry.service
    @named
    class Impatient:
        async def start(self):
            try:
                await hang()
            finally:
                impatient_expired.set()

    container = Container(registry, start_timeout=0.05)

    with pytest.raises(StartupError) as caught:
        container.start()

    assert str(caught.value) == (
        "Impatient did not start within 0.05s; started services were stopped"
    )
    assert caught.value.rollback_errors == []
    assert events == ["Patient start returns", "Patient stop"]


# Stop budgets


@pytest.mark.parametrize(
    ("options", "container_budget"),
    [({}, None), ({"stop_timeout": None}, 0.05)],
    ids=["container-none", "service-none"],
)
def test_an_async_stop_without_a_budget_runs_to_its_end(
    options, container_budget
):
    """``stop_timeout=None``, declared or inherited, sets no deadline."""
    events = []
    registry = Registry()

    @registry.service(**options)
    @named
    class Database:
        async def stop(self):
            await asyncio.sleep(0)
            events.append("Database stopped")

    container = Container(registry, stop_timeout=container_budget)
    container.start()
    container.stop()

    assert events == ["Database stopped"]


def test_a_stop_over_budget_is_recorded_and_the_walk_goes_on():
    """The late service's teardown is skipped; its dependencies still stop."""
    events = []
    registry = Registry()

    @registry.service
    class Settings:
        def stop(self):
            events.append("Settings stop")

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        async def stop(self):
            events.append("Database stop begins")
            await hang()

    @registry.service(stop_timeout=0.05)
    def database(settings: Settings) -> Iterator[Database]:
        yield Database(settings)
        events.append("database teardown")

    container = Container(registry, stop_timeout=None)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()

    error = caught.value
    assert events == ["Database stop begins", "Settings stop"]
    assert error.message == "stopping left failures in Database"
    assert error.services == [Database]
    [timeout] = error.exceptions
    assert type(timeout) is TimeoutError
    assert str(timeout) == "Database did not stop within 0.05s"


def test_the_container_stop_timeout_bounds_a_sync_stop(release):
    """A blocked sync stop is given up on when the container's budget ends."""
    events = []

    class Settings:
        def stop(self):
            events.append("Settings stop")

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        def stop(self):
            release.wait()

    container = Container(Settings, Database, stop_timeout=0.05)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()

    [timeout] = caught.value.exceptions
    assert str(timeout) == "Database did not stop within 0.05s"
    assert events == ["Settings stop"]


def test_a_short_stop_budget_after_a_long_one_is_enforced(release):
    """Sync stops share a thread; each is still held to its own budget.

    Api stops first, quickly, with an hour of budget; Database then hangs
    with 0.05 s. Were the loop to sleep until Api's deadline, this test
    would run into the suite's timeout instead of passing.
    """
    registry = Registry()

    @registry.service(stop_timeout=0.05)
    @named
    class Database:
        def stop(self):
            release.wait()

    @registry.service(stop_timeout=3600)
    @named
    class Api:
        def __init__(self, database: Database) -> None: ...

        def stop(self):
            pass

    container = Container(registry)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()

    [timeout] = caught.value.exceptions
    assert str(timeout) == "Database did not stop within 0.05s"


def test_a_stop_budget_after_a_stop_without_one_is_enforced(release):
    """A sync stop without a budget does not lift the next one's budget."""
    registry = Registry()

    @registry.service(stop_timeout=0.05)
    @named
    class Database:
        def stop(self):
            wait_in_thread(release, "the end of the test")

    @registry.service(stop_timeout=None)
    @named
    class Api:
        def __init__(self, database: Database) -> None: ...

        def stop(self):
            pass

    container = Container(registry)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()

    [timeout] = caught.value.exceptions
    assert str(timeout) == "Database did not stop within 0.05s"


def test_the_stop_budget_covers_cancelling_the_body():
    """A body that will not end uses up the budget; stop() is skipped."""
    events = []
    running = asyncio.Event()
    released = asyncio.Event()
    registry = Registry()

    @registry.service(stop_timeout=0.05)
    @named
    class Worker:
        async def run(self):
            running.set()
            try:
                await hang()
            except asyncio.CancelledError:
                events.append("run ignores the cancellation")
            await released.wait()

        async def stop(self):
            events.append("Worker stop")

    container = Container(registry)

    async def main():
        await container.astart()
        await wait_for(running)
        try:
            await container.astop()
        finally:
            released.set()

    with pytest.raises(ShutdownError) as caught:
        asyncio.run(main())

    [timeout] = caught.value.exceptions
    assert str(timeout) == "Worker did not stop within 0.05s"
    assert events == ["run ignores the cancellation"]


def test_a_stop_over_budget_during_rollback_is_a_rollback_error():
    """Rollback stops run under the same budgets as ordinary stops."""
    registry = Registry()

    @registry.service(stop_timeout=0.05)
    @named
    class Cache:
        async def stop(self):
            await hang()

    @registry.service
    class Database:
        def __init__(self, cache: Cache) -> None: ...

        def start(self):
            raise RuntimeError("boom")

    container = Container(registry)

    with pytest.raises(StartupError) as caught:
        container.start()

    [timeout] = caught.value.rollback_errors
    assert str(timeout) == "Cache did not stop within 0.05s"
    assert caught.value.__notes__ == [
        "during rollback: TimeoutError: Cache did not stop within 0.05s"
    ]
