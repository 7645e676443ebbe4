"""Exceptions that are not failures: SystemExit, stray cancellations.

A hook or ``run()`` body may raise SystemExit or KeyboardInterrupt, which
would stop the event loop with services still running on it; or raise a
CancelledError of its own, which would look like the stop walk being
cancelled. Either way every service must still be stopped, every failure
reported, and an exit raised again once the container is done.
"""

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from _lifecycle_support import PATIENCE, named, wait_for
from mainspring import Container, ShutdownError, StartupError, StateError

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def _fresh_events():
    EVENTS.clear()


class Db:
    def stop(self):
        EVENTS.append("stop Db")


class Api:
    def __init__(self, db: Db) -> None:
        self.db = db

    def stop(self):
        EVENTS.append("stop Api")


# A stop that raises CancelledError of its own


@pytest.mark.parametrize("api", ["sync", "async"])
def test_a_stop_raising_cancelled_error_is_a_failure_and_the_walk_goes_on(
    api,
):
    """Cancelling and awaiting its own task in stop() stops the rest too."""

    @named
    class Poller:
        def __init__(self, api: Api) -> None:
            self.api = api

        async def start(self):
            self.task = asyncio.ensure_future(asyncio.Event().wait())

        async def stop(self):
            EVENTS.append("stop Poller")
            self.task.cancel()
            await self.task  # raises the CancelledError it asked for

    container = Container(Db, Api, Poller)

    if api == "sync":
        container.start()
        with pytest.raises(ShutdownError) as caught:
            container.stop()
    else:

        async def main() -> ShutdownError:
            await container.astart()
            with pytest.raises(ShutdownError) as caught:
                await container.astop()
            return caught.value

        error = asyncio.run(main())

    error = caught.value if api == "sync" else error
    assert EVENTS == ["stop Poller", "stop Api", "stop Db"]
    assert error.services == [Poller]
    (member,) = error.exceptions
    assert str(member).startswith("raised CancelledError, though the ")
    assert isinstance(member.__cause__, asyncio.CancelledError)
    assert member.__notes__ == ["while stopping Poller"]


def test_a_sync_stop_raising_cancelled_error_is_a_failure_too():
    """The same holds for a stop hook that runs in a worker thread."""

    @named
    class Odd:
        def __init__(self, api: Api) -> None:
            self.api = api

        def stop(self):
            EVENTS.append("stop Odd")
            raise asyncio.CancelledError

    container = Container(Db, Api, Odd)
    container.start()

    with pytest.raises(ShutdownError) as caught:
        container.stop()

    assert EVENTS == ["stop Odd", "stop Api", "stop Db"]
    assert caught.value.services == [Odd]
    (member,) = caught.value.exceptions
    assert str(member).startswith("raised CancelledError, though the ")
    assert isinstance(member.__cause__, asyncio.CancelledError)


# SystemExit and KeyboardInterrupt from hooks and bodies


@pytest.mark.parametrize("exit_type", [SystemExit, KeyboardInterrupt])
def test_an_exit_from_a_stop_is_raised_after_every_stop(exit_type):
    """The walk finishes, then the exit the hook asked for is raised."""

    @named
    class Leaver:
        def __init__(self, api: Api) -> None:
            self.api = api

        def stop(self):
            EVENTS.append("stop Leaver")
            raise exit_type(3)

    container = Container(Db, Api, Leaver)
    container.start()

    with pytest.raises(exit_type) as caught:
        container.stop()

    assert EVENTS == ["stop Leaver", "stop Api", "stop Db"]
    assert caught.value.args == (3,)
    container.stop()  # done: a no-op now


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_an_exit_from_a_start_is_raised_after_the_rollback(is_async):
    """The started services are stopped, then the exit is raised."""

    @named
    class Leaver:
        def __init__(self, api: Api) -> None:
            self.api = api

        if is_async:

            async def start(self):
                raise SystemExit(4)

        else:

            def start(self):
                raise SystemExit(4)

    container = Container(Db, Api, Leaver)

    with pytest.raises(SystemExit) as caught:
        container.start()

    assert caught.value.code == 4
    assert EVENTS == ["stop Api", "stop Db"]


def test_an_exit_from_a_start_notes_what_failed_in_the_rollback():
    """A stop that fails during the rollback is kept as a note on the exit."""

    @named
    class Shaky:
        def stop(self):
            raise RuntimeError("Shaky would not stop")

    @named
    class Leaver:
        def __init__(self, shaky: Shaky) -> None:
            self.shaky = shaky

        def start(self):
            raise SystemExit(4)

    container = Container(Shaky, Leaver)

    with pytest.raises(SystemExit) as caught:
        container.start()

    assert caught.value.code == 4
    assert caught.value.__notes__ == [
        "also: RuntimeError: Shaky would not stop"
    ]


def test_an_exit_from_a_constructor_is_raised_after_the_rollback():
    """A constructor that exits during the build leaves nothing behind."""
    torn_down: list[str] = []

    @named
    class Pool:
        pass

    def pool() -> Iterator[Pool]:
        yield Pool()
        torn_down.append("pool")

    @named
    class Leaver:
        def __init__(self, pool: Pool) -> None:
            raise SystemExit(5)

    container = Container(pool, Leaver)

    with pytest.raises(SystemExit):
        container.start()

    assert torn_down == ["pool"]


def test_an_exit_from_a_body_stops_the_service_and_surfaces_at_stop():
    """Under ``with``, the others keep running; stop() raises the exit."""
    exited = asyncio.Event()

    @named
    class Job:
        def __init__(self, api: Api) -> None:
            self.api = api

        async def run(self):
            exited.set()
            raise SystemExit(6)

    container = Container(Db, Api, Job)
    container.start()
    loop = container.lifecycle.loop
    asyncio.run_coroutine_threadsafe(wait_for(exited), loop).result(PATIENCE)
    # The body's end is reported on the loop after it raised: wait for it.
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(PATIENCE)

    statuses = container.statuses()
    with pytest.raises(SystemExit) as caught:
        container.stop()

    assert statuses[Api] is None
    assert str(statuses[Job]) == "Job is not running (its run() body failed)"
    assert caught.value.code == 6
    assert EVENTS == ["stop Api", "stop Db"]


def test_a_status_that_exits_is_only_a_status():
    """A health check reports what it raised; it ends nothing."""

    @named
    class Odd:
        def status(self):
            raise SystemExit(7)

    with Container(Odd) as container:
        result = container.statuses()[Odd]

    assert isinstance(result, SystemExit)


def run_script(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_an_exit_from_a_body_under_run_stops_everything_and_exits():
    """run() stops every service, then the process exits with the code."""
    result = run_script(
        """
        import asyncio, sys
        from mainspring import Container

        class Db:
            def stop(self):
                print("stop Db", flush=True)

        class Job:
            def __init__(self, db: Db) -> None:
                pass

            async def run(self):
                await asyncio.sleep(0)
                sys.exit(7)

            def stop(self):
                print("stop Job", flush=True)

        Container(Db, Job).run()
        print("run() returned", flush=True)
        """
    )

    assert result.returncode == 7, result.stderr
    assert result.stdout.splitlines() == ["stop Job", "stop Db"]


# A body that stops its own container


def test_a_body_may_stop_its_own_container_under_async_with():
    """The walk cancels the body that asked for it, and still finishes."""
    asked: list[str] = []
    asking = asyncio.Event()

    @named
    class Admin:
        def __init__(self, container: Container, api: Api) -> None:
            self.container = container

        async def run(self):
            asking.set()
            try:
                await self.container.astop()
            except asyncio.CancelledError:
                asked.append("cancelled while the stop went on")
                raise

        def stop(self):
            EVENTS.append("stop Admin")

    async def main() -> Container:
        container = Container(Db, Api, Admin)
        async with container:
            await wait_for(asking)
            await container.astop()  # waits for the stop under way
        return container

    container = asyncio.run(main())

    assert EVENTS == ["stop Admin", "stop Api", "stop Db"]
    assert asked == ["cancelled while the stop went on"]
    assert isinstance(container.statuses()[Db], Exception)


def test_a_body_stopping_its_container_under_run_ends_run():
    """run() sees the stop a body asked for, waits for it and returns."""
    result = run_script(
        """
        from mainspring import Container

        class Db:
            def stop(self):
                print("stop Db", flush=True)

        class Admin:
            def __init__(self, container: Container, db: Db) -> None:
                self.container = container

            async def run(self):
                await self.container.astop()

            def stop(self):
                print("stop Admin", flush=True)

        Container(Db, Admin).run()
        print("run() returned", flush=True)
        """
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "stop Admin",
        "stop Db",
        "run() returned",
    ]


def test_failures_of_a_stop_a_body_asked_for_reach_the_next_caller():
    """The body was cancelled; the failures go to the block's own stop."""
    asking = asyncio.Event()

    @named
    class Fragile:
        def stop(self):
            raise RuntimeError("disk gone")

    @named
    class Admin:
        def __init__(self, container: Container, fragile: Fragile) -> None:
            self.container = container

        async def run(self):
            asking.set()
            await self.container.astop()

    async def main() -> None:
        container = Container(Fragile, Admin)
        async with container:
            await wait_for(asking)

    with pytest.raises(ShutdownError) as caught:
        asyncio.run(main())

    assert caught.value.services == [Fragile]


# Sync stop() from the container's own loop


def test_sync_stop_on_the_containers_loop_is_refused():
    """Blocking the loop the stop runs on would hang: it is a StateError."""
    answers: list[BaseException] = []
    tried = asyncio.Event()

    @named
    class Admin:
        def __init__(self, container: Container) -> None:
            self.container = container

        async def run(self):
            try:
                self.container.stop()
            except StateError as exc:
                answers.append(exc)
            tried.set()

    container = Container(Admin)
    container.start()
    asyncio.run_coroutine_threadsafe(
        wait_for(tried), container.lifecycle.loop
    ).result(PATIENCE)
    container.stop()

    assert [str(a) for a in answers] == [
        "inside the container's event loop, use 'await container.astop()'"
    ]


def test_an_exit_that_escapes_the_loop_is_raised_after_the_stop():
    """A stray task's SystemExit does not end the private loop for good."""
    go = asyncio.Event()

    @named
    class Careless:
        def __init__(self, api: Api) -> None:
            self.api = api

        async def start(self):
            async def leave() -> None:
                await go.wait()
                raise SystemExit(9)

            self.task = asyncio.ensure_future(leave())

        async def stop(self):
            EVENTS.append("stop Careless")

    container = Container(Db, Api, Careless)
    container.start()
    stray = container.get(Careless).task
    # The loop runs go.set(), then the stray task, then the stop.
    container.lifecycle.loop.call_soon_threadsafe(go.set)

    with pytest.raises(SystemExit) as caught:
        container.stop()

    assert caught.value.code == 9
    assert EVENTS == ["stop Careless", "stop Api", "stop Db"]
    # Read, so that asyncio does not log it later, in another test.
    assert stray.exception() is caught.value


def test_startup_error_is_still_raised_for_an_ordinary_failure():
    """Exits aside, a start that raises is a StartupError as before."""

    @named
    class Broken:
        def start(self):
            raise ValueError("nope")

    with pytest.raises(StartupError):
        Container(Broken).start()


def test_an_exit_that_escapes_the_loop_under_run_stops_everything():
    """run() stops every service after a stray task's exit, then exits."""
    result = run_script(
        """
        import asyncio, sys
        from mainspring import Container

        class Db:
            def stop(self):
                print("stop Db", flush=True)

        class Careless:
            def __init__(self, db: Db) -> None:
                pass

            async def start(self):
                async def leave() -> None:
                    await asyncio.sleep(0)
                    sys.exit(8)

                self.task = asyncio.ensure_future(leave())

            async def stop(self):
                print("stop Careless", flush=True)

        Container(Db, Careless).run()
        print("run() returned", flush=True)
        """
    )

    assert result.returncode == 8, result.stderr
    assert result.stdout.splitlines() == ["stop Careless", "stop Db"]


def test_an_exit_after_an_async_stop_has_waited_is_caught_too():
    """A stop that suspends first, then exits, is handled the same way."""

    @named
    class Leaver:
        def __init__(self, api: Api) -> None:
            self.api = api

        async def stop(self):
            await asyncio.sleep(0)
            EVENTS.append("stop Leaver")
            raise SystemExit(3)

    container = Container(Db, Api, Leaver)
    container.start()

    with pytest.raises(SystemExit):
        container.stop()

    assert EVENTS == ["stop Leaver", "stop Api", "stop Db"]


def test_a_body_that_exits_when_cancelled_is_stopped_then_exits():
    """An exit raised while the stop cancels a body comes after the walk."""
    began = asyncio.Event()

    @named
    class Stubborn:
        def __init__(self, api: Api) -> None:
            self.api = api

        async def run(self):
            began.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                raise SystemExit(5) from None

    container = Container(Db, Api, Stubborn)
    container.start()
    asyncio.run_coroutine_threadsafe(
        wait_for(began), container.lifecycle.loop
    ).result(PATIENCE)

    with pytest.raises(SystemExit) as caught:
        container.stop()

    assert caught.value.code == 5
    assert EVENTS == ["stop Api", "stop Db"]


def test_an_async_start_that_waits_then_fails_is_a_startup_error():
    """A failure after the hook's first suspension is an ordinary failure."""

    @named
    class Late:
        def __init__(self, api: Api) -> None:
            self.api = api

        async def start(self):
            await asyncio.sleep(0)
            raise ValueError("late")

    with pytest.raises(StartupError) as caught:
        Container(Db, Api, Late).start()

    assert isinstance(caught.value.__cause__, ValueError)
    assert EVENTS == ["stop Api", "stop Db"]
