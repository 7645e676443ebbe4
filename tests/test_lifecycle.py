"""Starting and stopping: order, concurrency, state, hooks and teardown.

Each test records what the hooks do into one list and asserts its order.
The services are classes of the test itself, so that no declaration leaks
from one test into another.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from _lifecycle_support import hang, named, wait_for, wait_in_thread
from mainspring import (
    Container,
    Registry,
    ShutdownError,
    StartupError,
    StateError,
)

STATE_ERROR = (
    "cannot start: the container is {}; a container runs once, so build a "
    "new one"
)


def _start_hook(events: list[str], name: str, *, is_async: bool) -> Callable:
    """A start() that records when it begins and when it returns."""
    if is_async:

        async def start(self):
            events.append(f"{name} begins")
            for _ in range(3):  # give a premature dependent its chance
                await asyncio.sleep(0)
            events.append(f"{name} returns")

        return start

    def start(self):
        events.append(f"{name} begins")
        events.append(f"{name} returns")

    return start


# Start order and concurrency


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_start_begins_after_every_dependency_has_returned(is_async):
    """A chain starts one link at a time, dependencies first."""
    events = []

    class Settings:
        start = _start_hook(events, "Settings", is_async=is_async)

    class Database:
        def __init__(self, settings: Settings) -> None: ...

        start = _start_hook(events, "Database", is_async=is_async)

    class Api:
        def __init__(self, database: Database) -> None: ...

        start = _start_hook(events, "Api", is_async=is_async)

    container = Container(Api, Database, Settings)

    container.start()
    container.stop()

    assert events == [
        "Settings begins",
        "Settings returns",
        "Database begins",
        "Database returns",
        "Api begins",
        "Api returns",
    ]


def test_start_waits_for_the_slowest_dependency():
    """A service with two dependencies begins after the later one returns."""
    events = []
    database_ready = asyncio.Event()

    class Database:
        async def start(self):
            events.append("Database returns")
            database_ready.set()

    class Cache:
        async def start(self):
            await wait_for(database_ready)
            events.append("Cache returns")

    class Api:
        def __init__(self, cache: Cache, database: Database) -> None: ...

        async def start(self):
            events.append("Api begins")

    container = Container(Cache, Database, Api)

    container.start()
    container.stop()

    assert events == ["Database returns", "Cache returns", "Api begins"]


def test_independent_async_starts_run_concurrently():
    """Two async starts that each wait for the other both return."""
    # Started one after the other, the first would wait for a start that
    # has not begun, and time out.
    left_began = asyncio.Event()
    right_began = asyncio.Event()

    class Left:
        async def start(self):
            left_began.set()
            await wait_for(right_began)

    class Right:
        async def start(self):
            right_began.set()
            await wait_for(left_began)

    container = Container(Left, Right)

    container.start()
    statuses = container.statuses()
    container.stop()

    assert statuses == {Left: None, Right: None}


def test_independent_sync_starts_run_concurrently_in_threads():
    """Two sync starts that each wait for the other both return."""
    left_began = threading.Event()
    right_began = threading.Event()

    class Left:
        def start(self):
            left_began.set()
            wait_in_thread(right_began, "Right to begin")

    class Right:
        def start(self):
            right_began.set()
            wait_in_thread(left_began, "Left to begin")

    container = Container(Left, Right)

    container.start()
    statuses = container.statuses()
    container.stop()

    assert statuses == {Left: None, Right: None}


def test_services_built_before_start_are_started_not_rebuilt():
    """start() starts the instances that get() already handed out."""
    started = []

    class Database:
        def start(self):
            started.append(self)

    container = Container(Database)
    database = container.get(Database)

    with container:
        pass

    assert started == [database]


def test_a_service_that_needs_the_container_starts_like_any_other():
    """Asking for the container itself adds no service to wait for."""
    events = []

    class Health:
        def __init__(self, container: Container) -> None:
            self.container = container

        def start(self):
            events.append("Health start")

    container = Container(Health)

    with container:
        statuses = container.statuses()

    assert events == ["Health start"]
    assert statuses == {Health: None}


# Stop order


def test_stop_walks_the_start_order_exactly_backwards():
    """Stops run one at a time, in the reverse of ``container.order``."""
    events = []

    class Config:
        def stop(self):
            events.append("Config")

    class Database:
        def __init__(self, config: Config) -> None: ...

        async def stop(self):
            await asyncio.sleep(0)
            events.append("Database")

    class Cache:
        def __init__(self, config: Config) -> None: ...

        def stop(self):
            events.append("Cache")

    class Api:
        def __init__(self, database: Database, cache: Cache) -> None: ...

        async def stop(self):
            for _ in range(3):  # a concurrent walk would interleave here
                await asyncio.sleep(0)
            events.append("Api")

    container = Container(Api, Cache, Database, Config)

    container.start()
    order = container.order
    container.stop()

    assert order == [Config, Cache, Database, Api]
    assert events == ["Api", "Database", "Cache", "Config"]


def test_a_failing_stop_does_not_halt_the_walk():
    """Every service is stopped even when one stop raises."""
    events = []

    class Settings:
        def stop(self):
            events.append("Settings")

    class Database:
        def __init__(self, settings: Settings) -> None: ...

        async def stop(self):
            events.append("Database")
            raise OSError("connection reset")

    class Api:
        def __init__(self, database: Database) -> None: ...

        def stop(self):
            events.append("Api")

    container = Container(Settings, Database, Api)
    container.start()

    with pytest.raises(ShutdownError):
        container.stop()

    assert events == ["Api", "Database", "Settings"]


def test_a_failing_stop_still_lets_its_own_teardown_run():
    """Only a timeout skips a service's remaining steps; an error does not."""
    events = []

    class Pool:
        def stop(self):
            events.append("Pool stop")
            raise OSError("connection reset")

    def pool() -> Iterator[Pool]:
        yield Pool()
        events.append("pool teardown")

    container = Container(pool)
    container.start()

    with pytest.raises(ShutdownError):
        container.stop()

    assert events == ["Pool stop", "pool teardown"]


def test_shutdown_error_gathers_every_failure_with_its_service():
    """Failed stops and teardowns are members of one ShutdownError."""
    database_error = OSError("connection reset")
    pool_error = RuntimeError("pool leaked 2 connections")

    @named
    class Pool:
        pass

    def pool() -> Iterator[Pool]:
        yield Pool()
        raise pool_error

    @named
    class Database:
        def __init__(self, pool: Pool) -> None: ...

        def stop(self):
            raise database_error

    @named
    class Api:
        def __init__(self, database: Database) -> None: ...

    container = Container(pool, Database, Api)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()

    error = caught.value
    assert isinstance(error, ExceptionGroup)
    assert str(error) == (
        "stopping left failures in Database, Pool (2 sub-exceptions)"
    )
    assert error.message == "stopping left failures in Database, Pool"
    assert error.exceptions == (database_error, pool_error)
    assert error.services == [Database, Pool]
    assert database_error.__notes__ == ["while stopping Database"]
    assert pool_error.__notes__ == ["while tearing down Pool"]


def test_shutdown_error_splits_keep_their_services():
    """``except*`` and ``split`` keep the class and each member's service."""

    class Database:
        def stop(self):
            raise OSError("connection reset")

    class Cache:
        def stop(self):
            raise ValueError("bad state")

    container = Container(Database, Cache)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()
    matched, rest = caught.value.split(OSError)

    assert isinstance(matched, ShutdownError)
    assert matched.services == [Database]
    assert isinstance(rest, ShutdownError)
    assert rest.services == [Cache]


def test_stop_twice_is_a_no_op():
    """The second stop calls no hook and raises nothing."""
    events = []

    class Database:
        def stop(self):
            events.append("stop")

    container = Container(Database)
    container.start()
    container.stop()

    container.stop()

    assert events == ["stop"]


def test_stop_after_a_failed_stop_does_not_raise_again():
    """The failures are reported by the stop that met them, only once."""
    events = []

    class Database:
        def stop(self):
            events.append("stop")
            raise OSError("connection reset")

    container = Container(Database)
    container.start()
    with pytest.raises(ShutdownError):
        container.stop()

    container.stop()

    assert events == ["stop"]


def test_astop_twice_is_a_no_op():
    """The async twin also stops only once."""
    events = []

    class Database:
        async def stop(self):
            events.append("stop")

    async def main():
        container = Container(Database)
        await container.astart()
        await container.astop()
        await container.astop()

    asyncio.run(main())

    assert events == ["stop"]


def test_stop_before_start_calls_no_hook():
    """A container that never started has nothing to stop."""
    events = []

    class Database:
        def start(self):
            events.append("start")

        def stop(self):
            events.append("stop")

    container = Container(Database)
    container.get(Database)

    container.stop()

    assert events == []


def test_stop_before_start_tears_down_built_generator_factories():
    """Generator factories built by get() are torn down by stop()."""
    events = []

    class Pool:
        def stop(self):
            events.append("Pool stop")

    def pool() -> Iterator[Pool]:
        events.append("pool opened")
        yield Pool()
        events.append("pool closed")

    class Unused:
        pass

    def unused() -> Iterator[Unused]:
        events.append("unused opened")
        yield Unused()

    container = Container(pool, unused)
    container.get(Pool)

    container.stop()

    assert events == ["pool opened", "pool closed"]


def test_start_after_stop_is_a_state_error():
    """A container runs once."""
    container = Container(Registry())
    container.start()
    container.stop()

    with pytest.raises(StateError) as caught:
        container.start()

    assert str(caught.value) == STATE_ERROR.format("stopped")


def test_start_after_stop_before_start_is_a_state_error():
    """Stopping a container that never started also ends its life."""
    container = Container(Registry())
    container.stop()

    with pytest.raises(StateError) as caught:
        container.start()

    assert str(caught.value) == STATE_ERROR.format("stopped")


def test_start_twice_is_a_state_error():
    """A running container refuses a second start and keeps running."""
    events = []

    class Database:
        def start(self):
            events.append("start")

    container = Container(Database)
    container.start()

    with pytest.raises(StateError) as caught:
        container.start()
    statuses = container.statuses()
    container.stop()

    assert str(caught.value) == STATE_ERROR.format("running")
    assert events == ["start"]
    assert statuses == {Database: None}


def test_start_after_a_failed_start_is_a_state_error():
    """A failed start ends the container's life too."""

    class Database:
        def start(self):
            raise RuntimeError("boom")

    container = Container(Database)
    with pytest.raises(StartupError):
        container.start()

    with pytest.raises(StateError) as caught:
        container.start()

    assert str(caught.value) == STATE_ERROR.format("stopped")


def test_stop_after_a_failed_start_is_a_no_op():
    """The rollback already stopped what had started."""
    events = []

    class Settings:
        def stop(self):
            events.append("Settings stop")

    class Database:
        def __init__(self, settings: Settings) -> None: ...

        def start(self):
            raise RuntimeError("boom")

    container = Container(Settings, Database)
    with pytest.raises(StartupError):
        container.start()

    container.stop()

    assert events == ["Settings stop"]


def test_astart_after_astop_is_a_state_error():
    """The async API refuses a second life as the sync one does."""

    async def main():
        container = Container(Registry())
        await container.astart()
        await container.astop()
        await container.astart()

    with pytest.raises(StateError) as caught:
        asyncio.run(main())

    assert str(caught.value) == STATE_ERROR.format("stopped")


def test_astart_twice_is_a_state_error():
    """A second astart on a running container is refused."""
    seen = []

    async def main():
        container = Container(Registry())
        async with container:
            with pytest.raises(StateError) as caught:
                await container.astart()
            seen.append(str(caught.value))

    asyncio.run(main())

    assert seen == [STATE_ERROR.format("running")]


# Hooks


def test_sync_and_async_hooks_are_all_called():
    """start, status and stop may each be sync or async."""
    events = []

    class SyncHooks:
        def start(self):
            events.append("sync start")

        def status(self):
            events.append("sync status")

        def stop(self):
            events.append("sync stop")

    class AsyncHooks:
        async def start(self):
            events.append("async start")

        async def status(self):
            events.append("async status")

        async def stop(self):
            events.append("async stop")

    class Plain:
        pass

    container = Container(SyncHooks, AsyncHooks, Plain)

    with container:
        started = sorted(events)
        events.clear()
        statuses = container.statuses()
        checked = sorted(events)
        events.clear()

    assert started == ["async start", "sync start"]
    assert statuses == {SyncHooks: None, AsyncHooks: None, Plain: None}
    assert checked == ["async status", "sync status"]
    assert events == ["async stop", "sync stop"]


def test_hooks_that_are_not_callable_are_ignored():
    """An attribute named like a hook but not callable is not a hook."""

    class Settings:
        start = None
        stop = "not a method"
        status = 3

    container = Container(Settings)

    with container:
        statuses = container.statuses()

    assert statuses == {Settings: None}


def _record_threads(threads: dict[str, threading.Thread]) -> tuple[type, ...]:
    """Two services that note the thread each of their hooks runs in."""

    class SyncHooks:
        def start(self):
            threads["sync start"] = threading.current_thread()

        def status(self):
            threads["sync status"] = threading.current_thread()

        def stop(self):
            threads["sync stop"] = threading.current_thread()

    class AsyncHooks:
        async def start(self):
            threads["async start"] = threading.current_thread()

        async def status(self):
            threads["async status"] = threading.current_thread()

        async def stop(self):
            threads["async stop"] = threading.current_thread()

    return SyncHooks, AsyncHooks


def test_with_runs_sync_hooks_in_workers_and_async_ones_on_the_loop():
    """Sync hooks leave both the caller's thread and the loop thread."""
    threads = {}
    container = Container(*_record_threads(threads))

    with container:
        container.statuses()

    loop_thread = threads["async start"]
    main = threading.main_thread()
    assert loop_thread is not main
    assert threads["async status"] is loop_thread
    assert threads["async stop"] is loop_thread
    for hook in ("sync start", "sync status", "sync stop"):
        assert threads[hook] not in {main, loop_thread}, hook


def test_async_with_runs_sync_hooks_in_workers_and_async_ones_on_the_loop():
    """Under ``async with`` the loop is the caller's, sync hooks still move."""
    threads = {}
    container = Container(*_record_threads(threads))

    async def main():
        async with container:
            await container.astatuses()

    asyncio.run(main())

    main_thread = threading.main_thread()
    for hook in ("async start", "async status", "async stop"):
        assert threads[hook] is main_thread, hook
    for hook in ("sync start", "sync status", "sync stop"):
        assert threads[hook] is not main_thread, hook


def test_a_sync_start_does_not_block_async_hooks():
    """The loop serves async starts while a sync start is blocked."""
    release = threading.Event()
    events = []

    class Blocking:
        def start(self):
            wait_in_thread(release, "the async start to release it")
            events.append("Blocking returns")

    class Releasing:
        async def start(self):
            await asyncio.sleep(0)
            events.append("Releasing returns")
            release.set()

    container = Container(Blocking, Releasing)

    with container:
        pass

    assert events == ["Releasing returns", "Blocking returns"]


def test_generator_teardown_runs_after_the_service_stop():
    """Code after ``yield`` runs once the yielded service has stopped."""
    events = []

    class Pool:
        def stop(self):
            events.append("Pool stop")

    def pool() -> Iterator[Pool]:
        yield Pool()
        events.append("pool teardown")

    class Client:
        def __init__(self, pool: Pool) -> None: ...

        async def stop(self):
            events.append("Client stop")

    async def client(pool: Pool) -> AsyncIterator[Client]:
        yield Client(pool)
        events.append("client teardown")

    container = Container(pool, client)

    with container:
        pass

    assert events == [
        "Client stop",
        "client teardown",
        "Pool stop",
        "pool teardown",
    ]


def test_async_generator_teardown_runs_on_the_loop():
    """An async generator finishes on the loop that built it."""
    loops = []

    class Client:
        pass

    async def client() -> AsyncIterator[Client]:
        loops.append(asyncio.get_running_loop())
        yield Client()
        loops.append(asyncio.get_running_loop())

    async def main():
        async with Container(client):
            loops.append(asyncio.get_running_loop())

    asyncio.run(main())

    assert loops[0] is loops[1] is loops[2]


def test_one_service_stops_its_body_then_its_hook_then_its_teardown():
    """Within one service: run() cancelled and awaited, stop(), teardown."""
    events = []
    running = asyncio.Event()

    class Worker:
        async def run(self):
            running.set()
            try:
                await hang()
            except asyncio.CancelledError:
                await asyncio.sleep(0)  # unwinding takes a step of its own
                events.append("run cancelled")
                raise

        async def stop(self):
            events.append("stop")

    def worker() -> Iterator[Worker]:
        yield Worker()
        events.append("teardown")

    async def main():
        async with Container(worker):
            await wait_for(running)

    asyncio.run(main())

    assert events == ["run cancelled", "stop", "teardown"]


def test_a_generator_dropped_by_an_override_is_torn_down_at_stop():
    """An async factory dropped when an override ends is torn down at stop."""
    events = []

    class Settings:
        name = "real"

    class FakeSettings(Settings):
        name = "fake"

    class Client:
        pass

    async def client(settings: Settings) -> AsyncIterator[Client]:
        yield Client()
        events.append(f"{settings.name} client teardown")

    container = Container(Settings, client)

    async def main():
        with container.override(Settings, FakeSettings()):
            await container.aget(Client)
        events.append("override ended")
        async with container:
            pass

    asyncio.run(main())

    assert events == [
        "override ended",
        "real client teardown",
        "fake client teardown",
    ]


def test_a_failing_teardown_dropped_by_an_override_is_reported_at_stop():
    """The deferred teardown's failure joins the ShutdownError."""
    leaked = RuntimeError("client leaked a socket")

    class Settings:
        pass

    @named
    class Client:
        pass

    async def client(settings: Settings) -> AsyncIterator[Client]:
        yield Client()
        raise leaked

    container = Container(Settings, client)

    async def main():
        with container.override(Settings, Settings()):
            await container.aget(Client)
        await container.astop()

    with pytest.raises(ShutdownError) as caught:
        asyncio.run(main())

    assert caught.value.exceptions == (leaked,)
    assert caught.value.services == [Client]
    assert leaked.__notes__ == ["while tearing down Client"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_generator_that_yields_twice_fails_its_teardown(is_async):
    """A generator factory must yield exactly one value."""

    @named
    class Pool:
        pass

    if is_async:

        async def pool() -> AsyncIterator[Pool]:
            yield Pool()
            yield Pool()

    else:

        def pool() -> Iterator[Pool]:
            yield Pool()
            yield Pool()

    container = Container(pool)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()

    [error] = caught.value.exceptions
    assert type(error) is RuntimeError
    assert str(error) == (
        "generator factory for Pool yielded more than once; it must yield "
        "exactly one value"
    )
    assert error.__notes__ == ["while tearing down Pool"]


def test_instances_registered_as_objects_have_a_lifecycle():
    """register_instance objects are started and stopped like the others."""
    events = []

    class Database:
        def start(self):
            events.append("start")

        def stop(self):
            events.append("stop")

    container = Container(Registry())
    container.register_instance(Database())

    with container:
        statuses = container.statuses()

    assert events == ["start", "stop"]
    assert statuses == {Database: None}


def test_transients_have_no_lifecycle():
    """A transient is never started, stopped or checked by the container."""
    events = []
    registry = Registry()

    @registry.service(scope="transient")
    class RequestId:
        def start(self):
            events.append("start")

        def stop(self):
            events.append("stop")

    container = Container(registry)

    with container:
        container.get(RequestId)
        statuses = container.statuses()

    assert events == []
    assert statuses == {}
