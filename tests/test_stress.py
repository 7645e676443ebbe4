"""Many threads and tasks at once: each singleton is still built once.

Races are forced rather than hoped for: threads wait at a barrier and then
all ask at once, and constructors are slow enough that the others arrive
while the first is still building. Every wait is bounded, so a deadlock
fails the test instead of hanging it.
"""

import asyncio
import inspect
import random
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from mainspring import Container, ShutdownError

THREADS = 64
TASKS = 1000
BOUND = 60.0  # seconds any thread or task group may take before we give up

_P = inspect.Parameter


class BoomError(RuntimeError):
    """A constructor that fails on purpose."""


class Tally:
    """Counts constructor calls from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def add(self, name: str) -> int:
        with self._lock:
            self.calls[name] += 1
            return self.calls[name]


def _init(names, deps, body):
    def __init__(self, *args):  # noqa: N807 - becomes __init__
        body(self)
        self.received = dict(zip(names, args, strict=True))

    __init__.__signature__ = inspect.Signature(
        [_P("self", _P.POSITIONAL_OR_KEYWORD)]
        + [_P(n, _P.POSITIONAL_OR_KEYWORD) for n in names]
    )
    __init__.__annotations__ = dict(zip(names, deps, strict=True))
    return __init__


def slow_class(name: str, deps: list[type], tally: Tally) -> type:
    """A class whose constructor takes a moment and counts its calls."""

    def body(self):
        tally.add(name)
        time.sleep(0.002)  # widen the window for a second builder

    names = [f"d{i}" for i in range(len(deps))]
    return type(
        name,
        (),
        {"__init__": _init(names, deps, body), "__qualname__": name},
    )


def wide_graph(tally: Tally, rnd: random.Random):
    """Three layers: 24 roots, 48 in the middle, 16 on top (4 transient)."""
    roots = [slow_class(f"Root{i}", [], tally) for i in range(24)]
    middle = [
        slow_class(f"Mid{i}", rnd.sample(roots, 3), tally) for i in range(48)
    ]
    top = [
        slow_class(f"Top{i}", rnd.sample(middle, 6), tally) for i in range(16)
    ]
    return roots, middle, top


def run_threads(count: int, work) -> list:
    """Run ``work(index)`` in ``count`` threads released together."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def main(index: int) -> None:
        try:
            barrier.wait(timeout=BOUND)
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=main, args=(i,), daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + BOUND
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not [t for t in threads if t.is_alive()], "deadlock"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("round_", range(3))
def test_64_threads_build_each_slow_singleton_once(round_):
    """64 threads resolving one wide graph see one instance per singleton."""
    tally = Tally()
    rnd = random.Random(round_)  # noqa: S311 - not for secrets
    roots, middle, top = wide_graph(tally, rnd)
    container = Container(*top[4:], *middle, *roots)
    for key in top[:4]:
        container.register(key, scope="transient")
    wanted = top[4:] + middle

    def work(index: int) -> dict:
        order = random.Random(index)  # noqa: S311 - not for secrets
        mine = order.sample(wanted, len(wanted))
        seen = {key: container.get(key) for key in mine}
        for key in top[:4]:
            seen[key] = container.get(key)
        return seen

    results = run_threads(THREADS, work)

    for key in roots + middle + top[4:]:
        assert tally.calls[key.__qualname__] == 1, key
    for key in top[:4]:
        assert tally.calls[key.__qualname__] == THREADS
    first = results[0]
    for seen in results:
        for key in wanted:
            assert seen[key] is first[key]
        for key in top[:4] + wanted:
            for name, dep in seen[key].received.items():
                assert dep is container.get(type(dep)), (key, name)
    container.stop()


def async_graph(tally: Tally):
    """Async singletons: coroutine and async generator factories, mixed
    with sync classes, each factory yielding to the loop while it builds.
    """

    class Config:
        def __init__(self) -> None:
            tally.add("Config")

    class Pool:
        pass

    class Client:
        pass

    class Cache:
        pass

    class Api:
        pass

    class Sync:
        def __init__(self, config: Config) -> None:
            tally.add("Sync")
            self.config = config

    async def pool(config: Config) -> Pool:
        tally.add("Pool")
        for _ in range(3):
            await asyncio.sleep(0)
        made = Pool()
        made.config = config
        return made

    async def client(pool: Pool, sync: Sync) -> AsyncIterator[Client]:
        tally.add("Client")
        await asyncio.sleep(0)
        made = Client()
        made.pool, made.sync = pool, sync
        yield made
        tally.add("Client closed")

    async def cache(client: Client) -> Cache:
        tally.add("Cache")
        await asyncio.sleep(0)
        made = Cache()
        made.client = client
        return made

    def api(cache: Cache, pool: Pool) -> Iterator[Api]:
        tally.add("Api")
        made = Api()
        made.cache, made.pool = cache, pool
        yield made
        tally.add("Api closed")

    keys = [Config, Sync, Pool, Client, Cache, Api]
    return keys, [Config, Sync, pool, client, cache, api]


def test_1000_concurrent_agets_build_each_async_singleton_once():
    """A thousand tasks asking at once share one instance of each."""
    tally = Tally()
    keys, providers = async_graph(tally)
    container = Container(*providers)
    rnd = random.Random(7)  # noqa: S311 - not for secrets
    wanted = [rnd.choice(keys) for _ in range(TASKS)]

    async def main():
        got = await asyncio.wait_for(
            asyncio.gather(*(container.aget(k) for k in wanted)), BOUND
        )
        again = [await container.aget(k) for k in keys]
        await container.astop()
        return got, again

    got, again = asyncio.run(main())

    for name in ("Config", "Sync", "Pool", "Client", "Cache", "Api"):
        assert tally.calls[name] == 1, name
    assert tally.calls["Client closed"] == tally.calls["Api closed"] == 1
    instances = dict(zip(keys, again, strict=True))
    for key, instance in zip(wanted, got, strict=True):
        assert instance is instances[key]
    api = instances[keys[-1]]
    assert api.cache.client.pool is api.pool


def test_agets_on_many_loops_and_gets_in_threads_build_once():
    """Eight event loops in eight threads, plus sync threads: one build."""
    tally = Tally()
    keys, providers = async_graph(tally)
    container = Container(*providers)
    loops = 8
    per_loop = TASKS // loops

    def work(index: int):
        if index >= loops:
            # Sync callers may build the sync singletons concurrently.
            return [container.get(keys[0]), container.get(keys[1])]
        rnd = random.Random(index)  # noqa: S311 - not for secrets
        wanted = [rnd.choice(keys) for _ in range(per_loop)]

        async def main():
            got = await asyncio.wait_for(
                asyncio.gather(*(container.aget(k) for k in wanted)), BOUND
            )
            return list(zip(wanted, got, strict=True))

        return asyncio.run(main())

    results = run_threads(loops + 8, work)

    for name in ("Config", "Sync", "Pool", "Client", "Cache", "Api"):
        assert tally.calls[name] == 1, name
    for result in results[:loops]:
        for key, instance in result:
            assert instance is container.get(key)
    for config, sync in results[loops:]:
        assert config is container.get(keys[0])
        assert sync is container.get(keys[1])
    # asyncio.run() closed Client's async generator when its loop ended:
    # the stop reports that, and still tears down everything else.
    with pytest.raises(ShutdownError) as caught:
        container.stop()

    assert caught.value.services == [keys[3]]
    assert tally.calls["Api closed"] == 1


def test_an_async_generator_closed_by_its_loop_is_reported_at_stop():
    """asyncio.run() ends the generator early; the stop says so by name."""
    tally = Tally()
    keys, providers = async_graph(tally)
    container = Container(*providers)

    asyncio.run(container.aget(keys[3]))
    with pytest.raises(ShutdownError) as caught:
        container.stop()

    (error,) = caught.value.exceptions
    assert caught.value.services == [keys[3]]
    assert str(error) == (
        f"the async generator factory for {keys[3].__qualname__} was "
        "closed by the event loop it was built on before the container "
        "stopped, so its teardown did not run; stop the container before "
        "that loop ends"
    )
    assert tally.calls["Client closed"] == 0


def flaky(tally: Tally, failures: int, *, key: type, kind: str):
    """A factory of ``key`` that raises on its first ``failures`` calls."""

    def attempt():
        if tally.add(key.__qualname__) <= failures:
            message = f"{key.__qualname__} is not ready"
            raise BoomError(message)
        tally.add(f"{key.__qualname__} made")
        return key()

    if kind == "function":

        def make() -> key:  # type: ignore[valid-type]
            time.sleep(0.002)
            return attempt()

    elif kind == "generator":

        def make() -> Iterator[key]:  # type: ignore[valid-type]
            yield attempt()

    elif kind == "coroutine":

        async def make() -> key:  # type: ignore[valid-type]
            await asyncio.sleep(0)
            return attempt()

    else:

        async def make() -> AsyncIterator[key]:  # type: ignore[valid-type]
            await asyncio.sleep(0)
            yield attempt()

    return make


class Fragile:
    pass


class User:
    def __init__(self, fragile: Fragile) -> None:
        self.fragile = fragile


@pytest.mark.parametrize("kind", ["function", "generator"])
def test_a_failed_build_is_not_cached_and_the_next_get_retries(kind):
    """Each get after a failure calls the factory again, until it works."""
    tally = Tally()
    container = Container(flaky(tally, 2, key=Fragile, kind=kind), User)

    for attempt in (1, 2):
        with pytest.raises(BoomError, match="Fragile is not ready"):
            container.get(User)
        assert tally.calls["Fragile"] == attempt
    user = container.get(User)

    assert user is container.get(User)
    assert user.fragile is container.get(Fragile)
    assert tally.calls["Fragile"] == 3
    assert tally.calls["Fragile made"] == 1
    container.stop()


@pytest.mark.parametrize("kind", ["function", "generator"])
def test_threads_racing_on_a_failing_factory_share_one_success(kind):
    """Callers see the failure or the one instance; it is built once."""
    tally = Tally()
    container = Container(flaky(tally, 5, key=Fragile, kind=kind), User)

    def work(index: int):
        try:
            return container.get(User)
        except BoomError as exc:
            return exc

    results = run_threads(THREADS, work)

    failed = [r for r in results if isinstance(r, BoomError)]
    users = [r for r in results if isinstance(r, User)]
    assert len(failed) == 5
    assert len(users) == THREADS - 5
    assert all(u is users[0] for u in users)
    assert tally.calls["Fragile made"] == 1
    container.stop()


@pytest.mark.parametrize("kind", ["coroutine", "async_generator"])
def test_tasks_racing_on_a_failing_async_factory_share_one_success(kind):
    """A failed async build is retried by the next waiting task."""
    tally = Tally()
    container = Container(flaky(tally, 3, key=Fragile, kind=kind), User)

    async def main():
        results = await asyncio.wait_for(
            asyncio.gather(
                *(container.aget(User) for _ in range(TASKS)),
                return_exceptions=True,
            ),
            BOUND,
        )
        await container.astop()
        return results

    results = asyncio.run(main())

    failed = [r for r in results if isinstance(r, BoomError)]
    users = [r for r in results if isinstance(r, User)]
    assert len(failed) == 3
    assert len(users) == TASKS - 3
    assert all(u is users[0] for u in users)
    assert tally.calls["Fragile made"] == 1


def test_a_chain_10000_deep_is_ordered_built_started_and_stopped():
    """No recursion limit applies: a 10,000-deep chain works end to end."""
    tally = Tally()
    events: list[str] = []
    chain: list[type] = []
    for index in range(10_000):
        deps = chain[-1:]
        name = f"Link{index}"

        def body(self, name=name):
            tally.add(name)

        cls = type(
            name,
            (),
            {
                "__init__": _init(["previous"][: len(deps)], deps, body),
                "__qualname__": name,
            },
        )
        if index % 1000 == 0:
            cls.stop = lambda self, name=name: events.append(name)
        chain.append(cls)
    container = Container(*reversed(chain), start_timeout=None)

    assert container.order == chain
    container.start()
    assert container.get(chain[-1]).received["previous"] is container.get(
        chain[-2]
    )
    container.stop()

    assert len(tally.calls) == 10_000
    assert set(tally.calls.values()) == {1}
    assert events == [f"Link{i}" for i in range(9000, -1, -1000)]


def test_a_lattice_of_shared_dependencies_is_walked_once_per_node():
    """Sixty levels of diamonds: 2**60 paths, yet each node is visited once.

    Level ``i`` has two services that both need both services of level
    ``i - 1``; walking paths instead of nodes would never finish.
    """
    tally = Tally()
    levels: list[list[type]] = [[]]
    for depth in range(60):
        below = levels[-1]
        names = [f"d{i}" for i in range(len(below))]
        level = []
        for side in "LR":
            name = f"Level{depth}{side}"

            def body(self, name=name):
                tally.add(name)

            level.append(
                type(
                    name,
                    (),
                    {
                        "__init__": _init(names, below, body),
                        "__qualname__": name,
                    },
                )
            )
        levels.append(level)
    container = Container(*(cls for level in levels for cls in level))

    top = container.get(levels[-1][0])
    container.stop()

    # Everything below the top, and nothing beside it.
    assert len(tally.calls) == 119
    assert "Level59R" not in tally.calls
    assert set(tally.calls.values()) == {1}
    assert top.received["d0"] is not top.received["d1"]
