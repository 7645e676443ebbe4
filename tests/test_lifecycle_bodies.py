"""``run()`` bodies, ``with`` and ``async with``: where and when code runs.

A body's end is seen by the container on its event loop; tests that need
to know the container has seen it wait for the line it logs then.
"""

import asyncio
import threading

import pytest

from _lifecycle_support import (
    hang,
    log_line,
    named,
    wait_for,
    wait_in_thread,
)
from mainspring import (
    Container,
    NotRunningError,
    Registry,
    ServiceFailedError,
    ShutdownError,
    StateError,
)

# Bodies


def test_a_body_begins_after_its_start_has_returned():
    """run() is launched once start() is done, not alongside it."""
    events = []
    running = asyncio.Event()

    class Worker:
        async def start(self):
            for _ in range(3):  # a body launched too early would run here
                await asyncio.sleep(0)
            events.append("start returns")

        async def run(self):
            events.append("run begins")
            running.set()

    async def main():
        async with Container(Worker):
            await wait_for(running)

    asyncio.run(main())

    assert events == ["start returns", "run begins"]


def test_a_body_waits_for_its_dependencies_to_start():
    """A body runs after the starts its service waited for."""
    events = []
    running = asyncio.Event()

    class Queue:
        async def start(self):
            await asyncio.sleep(0)
            events.append("Queue start returns")

    class Consumer:
        def __init__(self, queue: Queue) -> None: ...

        async def run(self):
            events.append("Consumer run begins")
            running.set()

    async def main():
        async with Container(Consumer, Queue):
            await wait_for(running)

    asyncio.run(main())

    assert events == ["Queue start returns", "Consumer run begins"]


def test_a_body_is_cancelled_when_the_container_stops():
    """Stopping cancels the body; its stop() runs after the body ended."""
    events = []
    running = threading.Event()

    class Consumer:
        async def run(self):
            running.set()
            try:
                await hang()
            except asyncio.CancelledError:
                events.append("run cancelled")
                raise

        def stop(self):
            events.append("stop")

    container = Container(Consumer)

    with container:
        wait_in_thread(running, "the body to run")
        before_stop = list(events)

    assert before_stop == []
    assert events == ["run cancelled", "stop"]


def test_a_sync_method_named_run_is_not_called():
    """Only ``async def run`` is a body; a sync run() belongs to the user."""
    events = []

    class Worker:
        def run(self):
            events.append("run")

    container = Container(Worker)

    with container:
        statuses = container.statuses()

    assert events == []
    assert statuses == {Worker: None}


def test_a_body_that_returns_leaves_its_service_running():
    """A body may finish its work early; the service stays up until stop."""
    events = []

    @named
    class Migrations:
        async def run(self):
            events.append("run")

        def stop(self):
            events.append("stop")

    container = Container(Migrations)

    with log_line(
        "Migrations.run() returned; the service keeps running"
    ) as returned:
        container.start()
        wait_in_thread(returned, "the body's return to be seen")
        statuses = container.statuses()
        container.stop()

    assert statuses == {Migrations: None}
    assert events == ["run", "stop"]


class _Failing:
    """A container with one failing body and one that keeps running."""

    def __init__(self) -> None:
        self.events = []
        self.error = RuntimeError("queue closed")
        events, error = self.events, self.error

        @named
        class Feeder:
            async def run(self):
                try:
                    await hang()
                except asyncio.CancelledError:
                    events.append("Feeder run cancelled")
                    raise

            def stop(self):
                events.append("Feeder stop")

        @named
        class Consumer:
            def __init__(self, feeder: Feeder) -> None: ...

            async def run(self):
                raise error

            def stop(self):
                events.append("Consumer stop")

        self.feeder, self.consumer = Feeder, Consumer
        self.container = Container(Feeder, Consumer)

    def start_and_wait_for_the_failure(self) -> None:
        with log_line("Consumer.run() failed") as failed:
            self.container.start()
            wait_in_thread(failed, "the body's failure to be seen")


def test_a_failing_body_marks_only_its_service_not_running():
    """Under ``with`` the failed service is down, the others keep running."""
    failing = _Failing()
    failing.start_and_wait_for_the_failure()

    statuses = failing.container.statuses()
    events_while_running = list(failing.events)
    with pytest.raises(ShutdownError):
        failing.container.stop()

    consumer_status = statuses[failing.consumer]
    assert statuses[failing.feeder] is None
    assert type(consumer_status) is NotRunningError
    assert str(consumer_status) == (
        "Consumer is not running (its run() body failed)"
    )
    assert consumer_status.service is failing.consumer
    assert consumer_status.__cause__ is failing.error
    assert events_while_running == []


def test_a_failing_body_is_raised_when_the_container_stops():
    """The body's failure is a ServiceFailedError in the ShutdownError."""
    failing = _Failing()
    failing.start_and_wait_for_the_failure()

    with pytest.raises(ShutdownError) as caught:
        failing.container.stop()

    error = caught.value
    assert error.message == "stopping left failures in Consumer"
    assert error.services == [failing.consumer]
    [member] = error.exceptions
    assert type(member) is ServiceFailedError
    assert str(member) == "Consumer.run() failed: RuntimeError: queue closed"
    assert member.service is failing.consumer
    assert member.__cause__ is failing.error
    assert failing.events == [
        "Consumer stop",
        "Feeder run cancelled",
        "Feeder stop",
    ]


def test_a_failing_body_is_raised_by_the_first_stop_only():
    """A second astop is a no-op, even after a stop that raised."""
    failing = asyncio.Event()
    outcomes = []

    class Consumer:
        async def run(self):
            failing.set()
            raise RuntimeError("queue closed")

    container = Container(Consumer)

    async def main():
        await container.astart()
        await wait_for(failing)
        for _ in range(2):
            try:
                await container.astop()
            except ShutdownError as error:
                outcomes.append(type(error))
            else:
                outcomes.append(None)

    asyncio.run(main())

    assert outcomes == [ShutdownError, None]


def test_a_body_that_fails_just_before_the_stop_is_still_reported():
    """A failure the container has not yet looked at is not lost at stop."""
    # The block ends as soon as the body is about to raise, so the stop
    # begins before the container's own bookkeeping of the body has run.
    failing = asyncio.Event()
    error = RuntimeError("queue closed")

    @named
    class Consumer:
        async def run(self):
            failing.set()
            raise error

    container = Container(Consumer)

    async def main():
        async with container:
            await wait_for(failing)

    with pytest.raises(ShutdownError) as caught:
        asyncio.run(main())

    [member] = caught.value.exceptions
    assert str(member) == "Consumer.run() failed: RuntimeError: queue closed"
    assert member.__cause__ is error


# with and async with


def test_with_runs_hooks_and_bodies_on_a_private_loop_thread():
    """The block runs in the caller's thread while the loop runs elsewhere."""
    threads = {}
    running = threading.Event()

    class Worker:
        async def start(self):
            threads["start"] = threading.current_thread()

        async def run(self):
            threads["run"] = threading.current_thread()
            running.set()
            await hang()

    with Container(Worker):
        wait_in_thread(running, "the body to run during the block")
        threads["block"] = threading.current_thread()

    assert threads["block"] is threading.main_thread()
    assert threads["start"] is threads["run"]
    assert threads["run"] is not threading.main_thread()


def test_with_leaves_no_loop_thread_behind():
    """The private loop thread ends when the container stops."""
    threads = []

    class Worker:
        async def start(self):
            threads.append(threading.current_thread())

    with Container(Worker):
        pass

    assert not threads[0].is_alive()


def test_with_stops_the_container_when_the_block_raises():
    """Leaving the block by an exception still stops every service."""
    events = []

    class Database:
        def stop(self):
            events.append("stop")

    container = Container(Database)

    with pytest.raises(LookupError), container:
        raise LookupError

    assert events == ["stop"]


def test_async_with_uses_the_running_loop():
    """Hooks and bodies share the loop of the code that entered the block."""
    loops = {}
    running = asyncio.Event()

    class Worker:
        async def start(self):
            loops["start"] = asyncio.get_running_loop()

        async def run(self):
            loops["run"] = asyncio.get_running_loop()
            running.set()

        async def stop(self):
            loops["stop"] = asyncio.get_running_loop()

    async def main():
        loops["main"] = asyncio.get_running_loop()
        async with Container(Worker):
            await wait_for(running)

    asyncio.run(main())

    assert loops["start"] is loops["main"]
    assert loops["run"] is loops["main"]
    assert loops["stop"] is loops["main"]


def test_stop_from_another_thread_stops_on_the_container_loop():
    """stop() from a thread hands the walk to the loop the services use."""
    loops = {}

    @named
    class Database:
        async def stop(self):
            loops["stop"] = asyncio.get_running_loop()

    container = Container(Database)

    async def main():
        loops["main"] = asyncio.get_running_loop()
        await container.astart()
        await asyncio.to_thread(container.stop)

    asyncio.run(main())

    assert loops["stop"] is loops["main"]
    assert str(container.statuses()[Database]) == (
        "Database is not running (stopped)"
    )


def test_stop_inside_the_container_loop_is_a_state_error():
    """A sync stop would block the loop it waits for; astop is the way."""
    seen = []

    async def main():
        async with Container(Registry()) as container:
            with pytest.raises(StateError) as caught:
                container.stop()
            seen.append(str(caught.value))

    asyncio.run(main())

    assert seen == [
        "inside the container's event loop, use 'await container.astop()'"
    ]


def test_astop_on_another_loop_is_a_state_error():
    """The services run on the container's loop; astop must run there too."""
    container = Container(Registry())

    with container:
        with pytest.raises(StateError) as caught:
            asyncio.run(container.astop())
        statuses_inside = container.statuses()

    assert str(caught.value) == (
        "astop() must run on the event loop the container was started on; "
        "use stop() from other threads"
    )
    assert statuses_inside == {}


def test_stop_after_the_container_loop_has_ended_is_a_state_error():
    """stop() says so when the services' loop is gone, instead of no-op."""
    events = []

    class Database:
        def stop(self):
            events.append("stop")

    container = Container(Database)
    asyncio.run(container.astart())

    with pytest.raises(StateError) as caught:
        container.stop()

    assert str(caught.value) == (
        "cannot stop: the event loop the container was started on has "
        "ended; use 'await container.astop()' before leaving that loop"
    )
    assert events == []


@pytest.mark.parametrize("is_async", [False, True], ids=["stop", "astop"])
def test_stopping_while_starting_is_a_state_error(is_async):
    """A start hook cannot stop the container that is starting it."""
    seen = []

    class Database:
        if is_async:

            async def start(self):
                with pytest.raises(StateError) as caught:
                    await container.astop()
                seen.append(str(caught.value))

        else:

            def start(self):
                with pytest.raises(StateError) as caught:
                    container.stop()
                seen.append(str(caught.value))

    container = Container(Database)

    with container:
        statuses = container.statuses()

    assert seen == ["cannot stop while the container is starting"]
    assert statuses == {Database: None}
