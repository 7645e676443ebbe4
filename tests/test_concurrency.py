"""Resolution from many threads and tasks at once.

Races are forced with events and barriers, never with sleeps. Every wait
has a timeout, so a container that deadlocks makes a test fail instead of
hanging it.
"""

import asyncio
import threading

import pytest

from mainspring import CircularDependencyError, Container

TIMEOUT = 10.0
THREADS = 32
TASKS = 200


class Slow:
    pass


class First:
    pass


class Second:
    pass


class Other:
    pass


class Outer:
    def __init__(self, other: Other) -> None:
        self.other = other


class Selfish:
    pass


class Flaky:
    pass


class Fetched:
    pass


def run_threads(target, count):
    """Run ``target(index)`` in ``count`` threads; return results and errors.

    Each outcome is stored by index, so a thread that failed or never
    finished is visible in the returned lists rather than lost.
    """
    results = [None] * count
    errors = [None] * count

    def work(index):
        try:
            results[index] = target(index)
        except BaseException as exc:
            errors[index] = exc

    threads = [
        threading.Thread(target=work, args=(index,), daemon=True)
        for index in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    return results, errors, stuck


def start_releaser(release, *waits):
    """Set ``release`` from a thread of its own once every wait returned."""

    def run():
        for wait in waits:
            wait()
        release.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_singleton_is_built_once_under_concurrent_gets():
    """32 threads asking at once for a slow singleton share one instance."""
    calls = []
    entered = threading.Event()
    release = threading.Event()
    barrier = threading.Barrier(THREADS + 1, timeout=TIMEOUT)

    def slow() -> Slow:
        calls.append(threading.get_ident())
        entered.set()
        if not release.wait(TIMEOUT):
            message = "the test never released the constructor"
            raise TimeoutError(message)
        return Slow()

    container = Container(slow)
    assert container.order == [Slow]

    def ask(index):
        barrier.wait()
        return container.get(Slow)

    # The constructor is held until every thread has passed the barrier
    # and one of them is inside it; the others meet a build in progress.
    releaser = start_releaser(
        release, barrier.wait, lambda: entered.wait(TIMEOUT)
    )
    results, errors, stuck = run_threads(ask, THREADS)
    releaser.join(TIMEOUT)

    assert stuck == []
    assert errors == [None] * THREADS
    assert len(calls) == 1
    assert all(result is results[0] for result in results)
    assert isinstance(results[0], Slow)


def test_unrelated_singletons_are_built_in_parallel():
    """Building one singleton does not hold up another thread's build.

    ``First`` cannot finish until ``Second`` has been built in another
    thread; one lock around all building would make it time out.
    """
    first_entered = threading.Event()
    second_built = threading.Event()

    def make_first() -> First:
        first_entered.set()
        if not second_built.wait(TIMEOUT):
            message = "Second was not built while First was being built"
            raise TimeoutError(message)
        return First()

    def make_second() -> Second:
        second_built.set()
        return Second()

    container = Container(make_first, make_second)
    assert container.order == [First, Second]

    def ask(index):
        if index == 0:
            return container.get(First)
        if not first_entered.wait(TIMEOUT):
            message = "First never started building"
            raise TimeoutError(message)
        return container.get(Second)

    results, errors, stuck = run_threads(ask, 2)

    assert stuck == []
    assert errors == [None, None]
    assert isinstance(results[0], First)
    assert isinstance(results[1], Second)


def test_constructor_may_get_another_service_without_deadlock():
    """A provider that calls ``get`` for another key is answered."""

    def make_outer() -> Outer:
        return Outer(container.get(Other))

    container = Container(Other, make_outer)

    results, errors, stuck = run_threads(lambda index: container.get(Outer), 1)

    assert stuck == []
    assert errors == [None]
    assert results[0].other is container.get(Other)


def test_nested_gets_from_many_threads_do_not_deadlock():
    """Threads racing into a provider that calls ``get`` all finish."""
    barrier = threading.Barrier(THREADS, timeout=TIMEOUT)

    def make_outer() -> Outer:
        return Outer(container.get(Other))

    container = Container(Other, make_outer)
    assert container.order == [Other, Outer]

    def ask(index):
        barrier.wait()
        key = Outer if index % 2 else Other
        return container.get(key)

    results, errors, stuck = run_threads(ask, THREADS)

    assert stuck == []
    assert errors == [None] * THREADS
    assert {id(result) for result in results[1::2]} == {
        id(container.get(Outer))
    }
    assert {id(result) for result in results[::2]} == {
        id(container.get(Other))
    }


def test_constructor_asking_for_its_own_key_is_a_cycle():
    """A provider that gets its own key fails instead of deadlocking."""

    def make_selfish() -> Selfish:
        container.get(Selfish)
        return Selfish()

    container = Container(make_selfish)

    _, errors, stuck = run_threads(lambda index: container.get(Selfish), 1)

    assert stuck == []
    assert isinstance(errors[0], CircularDependencyError)
    assert str(errors[0]) == (
        "circular dependency: Selfish -> Selfish; Selfish asked for Selfish "
        "while it was being built"
    )
    assert errors[0].cycle == [Selfish, Selfish]


def test_async_factory_awaiting_its_own_key_is_a_cycle():
    """An async provider that awaits its own key fails instead of hanging."""

    async def make_selfish() -> Selfish:
        await container.aget(Selfish)
        return Selfish()

    container = Container(make_selfish)

    async def scenario():
        return await asyncio.wait_for(container.aget(Selfish), TIMEOUT)

    with pytest.raises(CircularDependencyError) as caught:
        asyncio.run(scenario())

    assert str(caught.value) == (
        "circular dependency: Selfish -> Selfish; Selfish asked for Selfish "
        "while it was being built"
    )
    assert caught.value.cycle == [Selfish, Selfish]


def test_aget_from_many_tasks_builds_an_async_singleton_once():
    """200 tasks awaiting one async singleton share one instance."""
    calls = []

    async def scenario():
        entered = asyncio.Event()
        release = asyncio.Event()

        async def slow() -> Slow:
            calls.append("slow")
            entered.set()
            await release.wait()
            return Slow()

        container = Container(slow)
        tasks = [
            asyncio.create_task(container.aget(Slow)) for _ in range(TASKS)
        ]
        # Tasks run in creation order: by the time this wakes up, every
        # task has reached the build and is waiting on the first one.
        await asyncio.wait_for(entered.wait(), TIMEOUT)
        release.set()
        return await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)

    results = asyncio.run(scenario())

    assert calls == ["slow"]
    assert len(results) == TASKS
    assert all(result is results[0] for result in results)


def test_aget_from_several_event_loops_builds_once():
    """Tasks on loops in different threads still share one build."""
    calls = []
    entered = threading.Event()
    release = threading.Event()
    loops = 4

    async def slow() -> Slow:
        calls.append("slow")
        entered.set()
        if not await asyncio.to_thread(release.wait, TIMEOUT):
            message = "the test never released the factory"
            raise TimeoutError(message)
        return Slow()

    container = Container(slow)
    assert container.order == [Slow]
    barrier = threading.Barrier(loops + 1, timeout=TIMEOUT)

    async def ask_many():
        tasks = [asyncio.create_task(container.aget(Slow)) for _ in range(8)]
        return await asyncio.gather(*tasks)

    def in_a_loop(index):
        barrier.wait()
        return asyncio.run(ask_many())

    releaser = start_releaser(
        release, barrier.wait, lambda: entered.wait(TIMEOUT)
    )
    results, errors, stuck = run_threads(in_a_loop, loops)
    releaser.join(TIMEOUT)

    assert stuck == []
    assert errors == [None] * loops
    assert calls == ["slow"]
    instances = {id(item) for batch in results for item in batch}
    assert len(instances) == 1


def test_failing_factory_is_not_cached_and_is_retried():
    """A provider that raises leaves nothing behind; the next get retries."""
    calls = []

    def flaky() -> Flaky:
        calls.append("flaky")
        if len(calls) == 1:
            message = "first attempt fails"
            raise ConnectionError(message)
        return Flaky()

    container = Container(flaky)

    with pytest.raises(ConnectionError, match="first attempt fails"):
        container.get(Flaky)
    second = container.get(Flaky)
    third = container.get(Flaky)

    assert calls == ["flaky", "flaky"]
    assert second is third


def test_failing_async_factory_is_not_cached_and_is_retried():
    """``aget`` also retries a provider that raised."""
    calls = []

    async def flaky() -> Flaky:
        calls.append("flaky")
        if len(calls) == 1:
            message = "first attempt fails"
            raise ConnectionError(message)
        return Flaky()

    container = Container(flaky)

    async def scenario():
        with pytest.raises(ConnectionError, match="first attempt fails"):
            await container.aget(Flaky)
        return await container.aget(Flaky), await container.aget(Flaky)

    second, third = asyncio.run(scenario())

    assert calls == ["flaky", "flaky"]
    assert second is third


def test_thread_asking_during_a_failing_build_builds_it_again():
    """A build that raises in one thread is retried by the next asker."""
    calls = []
    entered = threading.Event()
    release = threading.Event()
    second_asking = threading.Event()

    def flaky() -> Flaky:
        calls.append("flaky")
        if len(calls) == 1:
            entered.set()
            release.wait(TIMEOUT)
            message = "first attempt fails"
            raise ConnectionError(message)
        return Flaky()

    container = Container(flaky)
    assert container.order == [Flaky]

    def ask(index):
        if index == 1:
            entered.wait(TIMEOUT)
            second_asking.set()
        return container.get(Flaky)

    releaser = start_releaser(release, lambda: second_asking.wait(TIMEOUT))
    results, errors, stuck = run_threads(ask, 2)
    releaser.join(TIMEOUT)

    assert stuck == []
    assert isinstance(errors[0], ConnectionError)
    assert errors[1] is None
    assert isinstance(results[1], Flaky)
    assert calls == ["flaky", "flaky"]


def test_get_from_a_fetched_singleton_in_threads_is_consistent():
    """A built singleton is read by every thread without rebuilding."""
    calls = []

    def fetched() -> Fetched:
        calls.append("fetched")
        return Fetched()

    container = Container(fetched)
    built = container.get(Fetched)
    barrier = threading.Barrier(THREADS, timeout=TIMEOUT)

    def ask(index):
        barrier.wait()
        return container.get(Fetched)

    results, errors, stuck = run_threads(ask, THREADS)

    assert stuck == []
    assert errors == [None] * THREADS
    assert all(result is built for result in results)
    assert calls == ["fetched"]


class Untouchable:
    """Stands in for a lock or a map that the fast path must not use."""

    def __getattr__(self, name):
        message = f"the fast path used {name}"
        raise AssertionError(message)

    def __getitem__(self, key):
        message = "the fast path read a per-key lock"
        raise AssertionError(message)

    def __enter__(self):
        message = "the fast path took a lock"
        raise AssertionError(message)

    def __exit__(self, *exc):
        return False


def test_get_of_a_built_singleton_takes_no_lock_and_reads_no_graph():
    """Once built, a singleton is a cache read: no lock, no graph walk."""
    container = Container(Other, Outer)
    outer = container.get(Outer)
    container._lock = container._record_lock = Untouchable()
    container._locks = Untouchable()
    container._graph = None  # a graph() call would take the lock

    fetched = container.get(Outer)
    fetched_async = asyncio.run(container.aget(Outer))

    assert fetched is outer
    assert fetched_async is outer
