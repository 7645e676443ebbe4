"""Properties of the start order and the lifecycle, searched with Hypothesis.

Every example draws a random dependency graph: service ``Si`` may only
depend on services ``Sj`` with ``j < i``, so the graph is acyclic, and the
services are then registered in a random permutation. The services are
classes made with ``type()``; each one's provider is the class itself, a
plain factory, a coroutine factory, or a sync or async generator factory.
Hooks append events to a list shared by the example; a hook that must hang
waits on an event nobody sets while the container runs (released when the
example ends), so the small timeouts are what ends it, never a sleep.

The ``ci`` profile in conftest.py bounds the number of examples;
``HYPOTHESIS_PROFILE=thorough`` searches much longer.
"""

import asyncio
import functools
import inspect
import json
import logging
import os
import random
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import Phase, event, given, note, settings
from hypothesis import strategies as st

from mainspring import (
    Container,
    Registry,
    ShutdownError,
    StartupError,
    StateError,
)

EXAMPLES = settings.default.max_examples

# Providers, by how they make their instance.
SYNC_KINDS = ("class", "function", "generator")
ASYNC_KINDS = ("coroutine", "async_generator")
ALL_KINDS = SYNC_KINDS + ASYNC_KINDS
TEARDOWN_KINDS = frozenset({"generator", "async_generator"})

# A hook that hangs is cut off by a budget this small; every other hook
# has a budget far larger than it could ever need.
HANG = 0.05
TEARDOWN_HANG = 0.1
GENEROUS = 30.0

_P = inspect.Parameter


class BoomError(RuntimeError):
    """The failure an injected fault raises."""


class ReleasedError(Exception):
    """Raised by a hung sync hook once its example has ended."""


@dataclass(frozen=True)
class Spec:
    """One drawn service: what it needs, how it is made, which hooks."""

    index: int
    deps: tuple[int, ...]
    kind: str
    scope: str
    start: str | None
    stop: str | None
    body: bool
    yields: int
    wants_container: bool
    # Parameters that are not dependencies: (position, kind), see EXTRAS.
    extras: tuple[tuple[int, str], ...] = ()

    @property
    def name(self) -> str:
        return f"S{self.index}"

    @property
    def is_singleton(self) -> bool:
        return self.scope == "singleton"

    @property
    def has_teardown(self) -> bool:
        return self.kind in TEARDOWN_KINDS


@dataclass(frozen=True)
class Drawn:
    """A drawn graph and the order its services are registered in."""

    specs: tuple[Spec, ...]
    registration: tuple[int, ...]

    def by_name(self, name: str) -> Spec:
        return self.specs[int(name[1:])]

    @property
    def singletons(self) -> list[Spec]:
        return [s for s in self.specs if s.is_singleton]


HOOKS = (None, "sync", "async")
# Parameters beside the dependencies: one with a default and no annotation,
# one with a default and a type nobody provides, and an optional one.
EXTRAS = ("default", "unprovided", "optional")


class _Drawer:
    """Choices made through Hypothesis, one draw each: they shrink well."""

    def __init__(self, draw) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def deps(self, index: int, most: int) -> list[int]:
        # Half near neighbours, half anywhere: long chains and wide fans.
        near = st.integers(max(0, index - 3), index - 1)
        anywhere = st.integers(0, index - 1)
        return self._draw(
            st.lists(near | anywhere, max_size=most, unique=True)
        )

    def permutation(self, size: int) -> list[int]:
        return self._draw(st.permutations(range(size)))


class _Seeded:
    """Choices from a seeded generator: cheap enough for hundreds of nodes."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)  # noqa: S311 - not for secrets

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)

    def deps(self, index: int, most: int) -> list[int]:
        count = min(index, self._random.randint(0, most))
        if self._random.random() < 0.5:
            pool = range(max(0, index - 2 * most), index)
            count = min(count, len(pool))
        else:
            pool = range(index)
        return self._random.sample(pool, count)

    def permutation(self, size: int) -> list[int]:
        order = list(range(size))
        self._random.shuffle(order)
        return order


def _draw_specs(pick, size, *, kinds, transients, max_deps, with_hooks):
    specs: list[Spec] = []
    for index in range(size):
        kind = kinds[pick.integer(0, len(kinds) - 1)]
        transient = (
            transients
            and kind not in TEARDOWN_KINDS
            and pick.integer(0, 5) == 0
        )
        deps = pick.deps(index, max_deps) if index else []
        specs.append(
            Spec(
                index=index,
                # A singleton may not depend on a transient.
                deps=tuple(
                    d for d in deps if transient or specs[d].is_singleton
                ),
                kind=kind,
                scope="transient" if transient else "singleton",
                start=HOOKS[pick.integer(0, 2)] if with_hooks else None,
                stop=HOOKS[pick.integer(0, 2)] if with_hooks else None,
                body=with_hooks and pick.integer(0, 4) == 0,
                yields=pick.integer(0, 2) if with_hooks else 0,
                wants_container=pick.integer(0, 15) == 0,
                extras=tuple(
                    (pick.integer(0, len(deps)), EXTRAS[pick.integer(0, 2)])
                    for _ in range(pick.integer(0, 2))
                ),
            )
        )
    return Drawn(tuple(specs), tuple(pick.permutation(size)))


# The most services a drawn graph may have: "a few hundred", as promised.
BIG = 300
# How big a graph is, picked first when a property allows big graphs: small
# graphs are drawn choice by choice, so a failure shrinks to a few services;
# the others grow from a drawn seed.
SCALES = ("small", "hundreds", "largest")
# Beginning and ending an override both rebuild the graph, and the override
# properties resolve every service several times: half as many services
# keeps them as fast as the others.
OVERRIDDEN = BIG // 2


@st.composite
def graphs(
    draw,
    *,
    max_size=30,
    big=0,
    kinds=ALL_KINDS,
    transients=True,
    max_deps=4,
    with_hooks=True,
):
    """A random DAG of services and a random registration permutation.

    Up to ``max_size`` services every choice is a Hypothesis draw. With
    ``big``, the scale is picked first, one of `SCALES` with equal chances:
    ``small`` as above, ``hundreds`` (from ``max_size`` to ``big``
    services) or ``largest`` (the top sixth, up to ``big``). Those grow
    from a drawn seed, since hundreds of separate draws per example would be
    slow, and they make up two examples in three, so big graphs are
    actually tried, not merely allowed.
    """
    options = {
        "kinds": kinds,
        "transients": transients,
        "max_deps": max_deps,
        "with_hooks": with_hooks,
    }
    scale = "small"
    if big:
        scale = draw(st.sampled_from(SCALES))
        event(f"scale: {scale}")
    if scale != "small":
        low = max_size if scale == "hundreds" else big - big // 6
        size = draw(st.integers(low, big))
        pick = _Seeded(draw(st.integers(0, 2**32 - 1)))
        return _draw_specs(pick, size, **options)
    size = draw(st.integers(1, max_size))
    return _draw_specs(_Drawer(draw), size, **options)


class World:
    """What the services of one example share: the event log and faults.

    ``faults`` maps ``(step, name)`` to ``"raise"``, ``"hang"``,
    ``"cancel"`` or ``"interrupt"``; steps are ``build``, ``start``,
    ``stop``, ``teardown`` and ``cancel`` (a run() body being cancelled).
    """

    def __init__(self, faults=None) -> None:
        self.events: list[tuple[str, str]] = []
        self.faults: dict[tuple[str, str], str] = dict(faults or {})
        self.release = threading.Event()
        self.interrupt = None
        self.instances: dict[str, object] = {}
        # Set by each run() body as it begins: {name: an Event}.
        self.began: dict[str, asyncio.Event | threading.Event] = {}

    def record(self, what: str, name: str) -> None:
        # list.append is atomic, so hooks in worker threads may record.
        # Once the example has ended, the hung hooks it releases may go on
        # in their abandoned threads: nothing they do is part of it.
        if not self.release.is_set():
            self.events.append((what, name))

    def of(self, *kinds: str) -> list[tuple[str, str]]:
        return [e for e in self.events if e[0] in kinds]

    def fail_sync(self, step: str, name: str) -> None:
        mode = self.faults.get((step, name))
        if mode is None:
            return
        if mode == "raise":
            raise BoomError(f"{step} {name} failed")
        if mode == "cancel":
            raise asyncio.CancelledError
        if mode == "interrupt":
            # Allowed to finish: the container must then roll it back.
            self.interrupt()
            return
        self.release.wait()
        raise ReleasedError

    async def fail_async(self, step: str, name: str) -> None:
        mode = self.faults.get((step, name))
        if mode is None:
            return
        if mode == "raise":
            raise BoomError(f"{step} {name} failed")
        if mode == "cancel":
            raise asyncio.CancelledError
        if mode == "interrupt":
            self.interrupt()
        await asyncio.Event().wait()


def _signature(names, *, method):
    params = [_P("self", _P.POSITIONAL_OR_KEYWORD)] if method else []
    params += [_P(n, _P.POSITIONAL_OR_KEYWORD) for n in names]
    return inspect.Signature(params)


class Unregistered:
    """A type no example registers."""


DEFAULT = object()


def parameters(spec: Spec, dep_keys: dict[str, object]):
    """The parameters of ``spec``'s provider: its dependencies and extras.

    Returns the signature's parameters (without ``self``), the annotations
    and what the provider must receive: ``{name: dependency name}``, or
    ``None`` for an optional parameter nobody provides. Once one parameter
    has a default, every later one has one too, as Python requires.
    """
    slots: list[tuple[str, str]] = [(name, "dep") for name in dep_keys]
    for number, (position, kind) in enumerate(spec.extras):
        slots.insert(min(position, len(slots)), (f"x{number}", kind))
    params, annotations, expected = [], {}, {}
    defaulted = False
    for name, kind in slots:
        defaulted = defaulted or kind in {"default", "unprovided"}
        default = DEFAULT if defaulted else _P.empty
        params.append(_P(name, _P.POSITIONAL_OR_KEYWORD, default=default))
        if kind == "dep":
            annotations[name] = dep_keys[name]
            expected[name] = dep_keys[name]
        elif kind == "unprovided":
            annotations[name] = Unregistered
        elif kind == "optional":
            annotations[name] = Unregistered | None
            if not defaulted:
                expected[name] = None
    return params, annotations, expected


def _product(spec: Spec, world: World, dep_keys: dict[str, object]) -> type:
    """The class of the instance ``spec`` provides, with its hooks."""
    name = spec.name
    params, annotations, _ = parameters(spec, dep_keys)
    names = [p.name for p in params]

    def __init__(self, *args, **kwargs):  # noqa: N807 - becomes __init__
        world.fail_sync("build", name)
        world.record("build", name)
        # By position or by name, each value lands on its parameter's name.
        self.received = dict(zip(names, args, strict=False)) | kwargs
        world.instances[name] = self

    __init__.__signature__ = inspect.Signature(
        [_P("self", _P.POSITIONAL_OR_KEYWORD), *params]
    )
    __init__.__annotations__ = annotations
    namespace = {
        "__init__": __init__,
        "__module__": __name__,
        "__qualname__": name,
        **_hooks(spec, world),
    }
    return type(name, (), namespace)


def _start_hook(spec: Spec, world: World):
    name = spec.name

    def start(self):
        world.record("begin", name)
        world.fail_sync("start", name)
        world.record("start", name)

    async def astart(self):
        world.record("begin", name)
        for _ in range(spec.yields):
            await asyncio.sleep(0)
        await world.fail_async("start", name)
        world.record("start", name)

    return start if spec.start == "sync" else astart


def _stop_hook(spec: Spec, world: World):
    name = spec.name

    def stop(self):
        world.record("stop", name)
        world.fail_sync("stop", name)

    async def astop(self):
        world.record("stop", name)
        for _ in range(spec.yields):
            await asyncio.sleep(0)
        await world.fail_async("stop", name)

    return stop if spec.stop == "sync" else astop


def _body(spec: Spec, world: World):
    name = spec.name

    async def run(self):
        world.record("run", name)
        began = world.began.get(name)
        if began is not None:
            began.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            world.record("cancel", name)
            mode = world.faults.get(("cancel", name))
            if mode == "hang":
                # Ignores this cancellation; gives in to the next one.
                await asyncio.Event().wait()
            if mode == "raise":
                message = f"cancel {name} failed"
                raise BoomError(message) from None
            raise

    return run


def _hooks(spec: Spec, world: World) -> dict[str, object]:
    """The hooks ``spec`` asks for, each recording what happens to it."""
    hooks: dict[str, object] = {}
    if spec.start:
        hooks["start"] = _start_hook(spec, world)
    if spec.stop:
        hooks["stop"] = _stop_hook(spec, world)
    if spec.body:
        hooks["run"] = _body(spec, world)
    return hooks


def _provider(spec: Spec, world: World, product: type, dep_keys):
    """The class itself, or a factory of the kind ``spec`` asks for."""
    if spec.kind == "class":
        return product
    name = spec.name
    if spec.kind == "function":

        def provider(*args, **kwargs):
            return product(*args, **kwargs)

        returns = product
    elif spec.kind == "coroutine":

        async def provider(*args, **kwargs):
            await asyncio.sleep(0)
            return product(*args, **kwargs)

        returns = product
    elif spec.kind == "generator":

        def provider(*args, **kwargs):
            yield product(*args, **kwargs)
            world.record("teardown", name)
            world.fail_sync("teardown", name)

        returns = Iterator[product]
    else:

        async def provider(*args, **kwargs):
            yield product(*args, **kwargs)
            world.record("teardown", name)
            await world.fail_async("teardown", name)

        returns = AsyncIterator[product]
    provider.__name__ = provider.__qualname__ = f"make_{name.lower()}"
    params, annotations, _ = parameters(spec, dep_keys)
    provider.__signature__ = inspect.Signature(params)
    provider.__annotations__ = {**annotations, "return": returns}
    return provider


class Built:
    """The classes and providers made from one drawn graph."""

    def __init__(self, drawn: Drawn, world: World, timeouts=None) -> None:
        self.drawn = drawn
        self.world = world
        self.products: list[type] = []
        self.providers: list[object] = []
        self.wiring: dict[str, dict[str, object]] = {}
        timeouts = timeouts or {}
        self.registry = Registry()
        for spec in drawn.specs:
            dep_keys: dict[str, object] = {
                f"s{d}": self.products[d] for d in spec.deps
            }
            if spec.wants_container:
                dep_keys["container"] = Container
            self.wiring[spec.name] = parameters(spec, dep_keys)[2]
            product = _product(spec, world, dep_keys)
            self.products.append(product)
            self.providers.append(_provider(spec, world, product, dep_keys))
        for index in drawn.registration:
            spec = drawn.specs[index]
            options = timeouts.get(spec.name, {})
            self.registry.service(scope=spec.scope, **options)(
                self.providers[index]
            )

    def container(self, **options) -> Container:
        options.setdefault("start_timeout", GENEROUS)
        options.setdefault("stop_timeout", GENEROUS)
        return Container(self.registry, **options)

    def names(self, keys) -> list[str]:
        return [key.__qualname__ for key in keys]


def plain(index: int, deps) -> Spec:
    """A singleton class with no hooks."""
    return Spec(
        index, tuple(deps), "class", "singleton", None, None, False, 0, False
    )


def reference_order(drawn: Drawn) -> list[str]:
    """Kahn's algorithm written plainly: the earliest registered ready one.

    Transients never hold a singleton back (no singleton depends on one),
    so the order of the singletons alone is the order.
    """
    remaining = [
        drawn.specs[i]
        for i in drawn.registration
        if drawn.specs[i].is_singleton
    ]
    placed: set[int] = set()
    order = []
    while remaining:
        ready = next(s for s in remaining if placed.issuperset(s.deps))
        remaining.remove(ready)
        placed.add(ready.index)
        order.append(ready.name)
    return order


def ancestors(drawn: Drawn) -> dict[str, set[str]]:
    """Every service each singleton depends on, directly or not."""
    found: dict[int, set[int]] = {}
    for spec in drawn.specs:
        found[spec.index] = set(spec.deps).union(
            *(found[d] for d in spec.deps)
        )
    return {
        drawn.specs[i].name: {drawn.specs[a].name for a in found[i]}
        for i in found
    }


class LogCapture(logging.Handler):
    """The services the container reports as started and stopped."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.errors: list[logging.LogRecord] = []
        # Called (in the logging thread) on each ERROR record.
        self.on_error = None

    def emit(self, record: logging.LogRecord) -> None:
        service = getattr(record, "mainspring_service", None)
        message = record.getMessage()
        if message.startswith(f"started {service} "):
            self.started.append(service)
        elif message.startswith(f"stopped {service} "):
            self.stopped.append(service)
        if record.levelno >= logging.ERROR:
            self.errors.append(record)
            if self.on_error is not None:
                self.on_error()


@contextmanager
def captured_logs():
    logger = logging.getLogger("mainspring")
    handler = LogCapture()
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def expected_walk(drawn: Drawn, world: World, order, started) -> list:
    """The stop steps the reverse walk must attempt, given what started.

    For each service, last started first: its run() body is cancelled (if
    it ever ran), its stop() called, then its generator torn down; a stop
    that hangs past its budget skips the rest of that service's steps.
    """
    ran = {name for what, name in world.events if what == "run"}
    built = {name for what, name in world.events if what == "build"}
    walk = []
    for name in reversed(order):
        spec = drawn.by_name(name)
        cut = False
        if name in started:
            if name in ran:
                walk.append(("cancel", name))
                cut = world.faults.get(("cancel", name)) == "hang"
            if spec.stop and not cut:
                walk.append(("stop", name))
                cut = world.faults.get(("stop", name)) == "hang"
        if spec.has_teardown and name in built and not cut:
            walk.append(("teardown", name))
    return walk


def check_starts_follow_dependencies(drawn: Drawn, world: World) -> None:
    position = {event: i for i, event in enumerate(world.events)}
    for name, needs in ancestors(drawn).items():
        begun = position.get(("begin", name))
        if begun is None:
            continue
        for dep in needs:
            if drawn.by_name(dep).start:
                assert position[("start", dep)] < begun, (dep, name)


def start_then_stop(container: Container, api: str, world: World, bodies):
    """Start, wait until every run() body has begun, then stop.

    ``bodies`` names the services whose run() body the start launches.
    Each sets its event as it begins, so the stop finds every body running
    and must cancel each one. Returns the stop's `ShutdownError`, or
    ``None`` when it raised none.
    """
    if api == "sync":
        world.began = {name: threading.Event() for name in bodies}
        container.start()
        assert list(container.statuses()) == container.order
        for name, began in world.began.items():
            assert began.wait(GENEROUS), f"the run() of {name} never began"
        error = _stop_and_report(container)
    else:

        async def main():
            world.began = {name: asyncio.Event() for name in bodies}
            await container.astart()
            async with asyncio.timeout(GENEROUS):
                for began in world.began.values():
                    await began.wait()
            try:
                await container.astop()
            except ShutdownError as exc:
                return exc
            return None

        error = asyncio.run(main())
    assert {n for _, n in world.of("run")} == set(bodies)
    assert {n for _, n in world.of("cancel")} == set(bodies)
    return error


def _stop_and_report(container: Container):
    """Stop; return the ShutdownError raised, or None."""
    try:
        container.stop()
    except ShutdownError as exc:
        return exc
    return None


# The drawn graphs


def test_big_graphs_are_drawn_not_merely_allowed():
    """A property allowing ``BIG`` services sees hundreds in many examples."""
    sizes: list[int] = []

    @settings(
        max_examples=60,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
    )
    @given(graphs(big=BIG))
    def draw(drawn):
        sizes.append(len(drawn.specs))

    draw()

    largest = [n for n in sizes if n >= BIG - BIG // 6]
    hundreds = [n for n in sizes if n >= 100]
    assert len(largest) >= len(sizes) // 6, sizes
    assert len(hundreds) >= len(sizes) // 3, sizes
    assert max(sizes) >= BIG - 10, sizes
    assert min(sizes) <= 5, sizes


# The start order


@settings(max_examples=EXAMPLES * 2)
@given(graphs(big=BIG, with_hooks=False, max_deps=5))
def test_order_is_kahn_with_registration_priority(drawn):
    """``order`` places the earliest registered of the services now ready."""
    built = Built(drawn, World())

    order = built.names(built.container().order)

    assert order == reference_order(drawn)
    position = {name: i for i, name in enumerate(order)}
    for spec in drawn.singletons:
        for dep in spec.deps:
            assert position[f"S{dep}"] < position[spec.name]


@settings(max_examples=EXAMPLES)
@given(graphs(big=BIG, with_hooks=False), st.randoms())
def test_order_is_the_same_for_every_way_of_registering(drawn, rnd):
    """Registries, explicit providers and register() agree on the order."""
    built = Built(drawn, World())
    in_order = [built.providers[i] for i in drawn.registration]
    split = rnd.randint(0, len(in_order))
    expected = built.names(built.container().order)

    explicit = Container(*in_order)
    one_by_one = Container(Registry())
    for provider in in_order:
        one_by_one.register(provider)
    half = Registry()
    for index in drawn.registration[:split]:
        half.service(scope=drawn.specs[index].scope)(built.providers[index])
    mixed = Container(half, *in_order[split:])

    class Subclass(Container):
        pass

    for container in (explicit, one_by_one, mixed, Subclass(*in_order)):
        assert built.names(container.order) == expected
    # The same graph made again from new class objects (new hashes).
    assert built.names(Built(drawn, World()).container().order) == expected


@settings(max_examples=EXAMPLES)
@given(graphs(big=BIG, with_hooks=False))
def test_registration_order_is_the_order_when_it_respects_dependencies(
    drawn,
):
    """Registered dependencies first, the start order is registration order."""
    drawn = Drawn(drawn.specs, tuple(range(len(drawn.specs))))

    order = Built(drawn, World()).container().order

    assert [k.__qualname__ for k in order] == [
        s.name for s in drawn.singletons
    ]


def test_order_is_the_same_under_every_hash_seed():
    """Separate processes with different hash seeds compute the same order."""
    rnd = random.Random(20240601)  # noqa: S311 - not for secrets
    graphs_ = []
    for _ in range(6):
        size = rnd.randint(20, 200)
        deps = [
            sorted(rnd.sample(range(i), min(i, rnd.randint(0, 4))))
            for i in range(size)
        ]
        registration = list(range(size))
        rnd.shuffle(registration)
        graphs_.append({"deps": deps, "registration": registration})
    expected = [
        reference_order(
            Drawn(
                tuple(plain(i, d) for i, d in enumerate(g["deps"])),
                tuple(g["registration"]),
            )
        )
        for g in graphs_
    ]
    app = Path(__file__).with_name("_fault_apps.py")
    src = str(Path(__file__).parents[1] / "src")
    for seed in ("0", "1", "4242", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src}
        result = subprocess.run(
            [sys.executable, str(app), "order"],
            input=json.dumps(graphs_),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )

        assert json.loads(result.stdout) == expected, seed


# Starting and stopping


@settings(max_examples=EXAMPLES)
@given(graphs(big=BIG), st.sampled_from(["sync", "async"]))
def test_starts_follow_dependencies_and_stop_reverses_order(drawn, api):
    """Each start() begins after its dependencies' returned; stop reverses."""
    world = World()
    built = Built(drawn, world)
    container = built.container()
    order = built.names(container.order)

    bodies = {s.name for s in drawn.singletons if s.body}
    with captured_logs() as logs:
        assert start_then_stop(container, api, world, bodies) is None

    singletons = {s.name for s in drawn.singletons}
    builds = [name for what, name in world.events if what == "build"]
    assert sorted(builds) == sorted(singletons)
    first_begin = next(
        (i for i, (what, _) in enumerate(world.events) if what == "begin"),
        len(world.events),
    )
    assert len(world.of("build")) <= first_begin
    check_starts_follow_dependencies(drawn, world)
    with_start = [s.name for s in drawn.singletons if s.start]
    assert sorted(n for _, n in world.of("start")) == sorted(with_start)
    assert sorted(logs.started) == sorted(order)
    assert logs.stopped == order[::-1]
    assert world.of("cancel", "stop", "teardown") == expected_walk(
        drawn, world, order, set(order)
    )
    for spec in drawn.singletons:
        check_wiring(built, spec, container)


def check_wiring(built: Built, spec: Spec, container: Container) -> None:
    """Each parameter got its shared dependency, ``None``, or was left out."""
    received = built.world.instances[spec.name].received
    expected = built.wiring[spec.name]
    assert set(received) == set(expected), spec
    for param, key in expected.items():
        if key is None:
            assert received[param] is None
        elif key is Container:
            assert received[param] is container
        else:
            assert received[param] is built.world.instances[key.__qualname__]


# Faults


START_FAULTS = ("raise", "hang", "cancel", "interrupt", "build")
# How many of the steps that may fail do: picked first, with equal chances.
SUBSET_SIZES = ("none", "one", "some", "all")
# Each hang lasts its whole budget in real time, so at most this many steps
# hang in one example, and fewer hang in most examples; any number may
# raise.
MOST_HANGS = 4
HANG_SIZES = ("none", "none", "one", "some", "all")
# Subsets of more items than this are picked from a drawn seed.
SEEDED = 30
VERBS = {
    "cancel": "cancelling run() of",
    "stop": "stopping",
    "teardown": "tearing down",
}


def draw_subset(
    data, items, label: str, *, most=None, sizes=SUBSET_SIZES
) -> list:
    """Any subset of ``items``, of at most ``most``; its size is picked first.

    The size is one of ``sizes``, so that every item failing is tried as
    well as a single one.
    """
    most = len(items) if most is None else min(most, len(items))
    if not most:
        return []
    size = data.draw(st.sampled_from(sizes), label=f"{label}: size")
    event(f"{label}: {size}")
    count = {"none": 0, "one": 1, "all": most}.get(size)
    if count is None:
        count = data.draw(st.integers(min(2, most), most))
    if count == len(items):
        return list(items)
    if len(items) > SEEDED:
        # One draw per item would exceed what Hypothesis lets an example
        # draw: hundreds of items are picked with a drawn seed instead.
        seed = data.draw(st.integers(0, 2**32 - 1), label=f"{label}: seed")
        rnd = random.Random(seed)  # noqa: S311 - not for secrets
        return rnd.sample(list(items), count)
    return data.draw(
        st.lists(
            st.sampled_from(items),
            min_size=count,
            max_size=count,
            unique=True,
        ),
        label=label,
    )


def draw_stop_faults(
    data, drawn: Drawn, steps, hangable
) -> dict[tuple[str, str], str]:
    """Some of the stop ``steps`` hang (of those ``hangable``), some raise."""
    hanging = draw_subset(
        data,
        [s for s in steps if s in hangable],
        "hanging",
        most=MOST_HANGS,
        sizes=HANG_SIZES,
    )
    raising = draw_subset(
        data, [s for s in steps if s not in hanging], "raising"
    )
    return dict.fromkeys(hanging, "hang") | dict.fromkeys(raising, "raise")


def stop_budgets(faults) -> dict[str, float]:
    """The stop budget of each service with a hanging stop step."""
    budgets: dict[str, float] = {}
    for (step, name), mode in faults.items():
        if mode == "hang" and step != "start":
            budget = TEARDOWN_HANG if step == "teardown" else HANG
            budgets[name] = min(budget, budgets.get(name, budget))
    return budgets


def stop_failures(walk, faults, budgets) -> list[tuple[str, str, str | None]]:
    """What the walk must report: service, message, the note on the error.

    A step that raised is tagged with what was being done; a hang is a
    TimeoutError naming the service's budget, with no tag.
    """
    failures: list[tuple[str, str, str | None]] = []
    for step, name in walk:
        mode = faults.get((step, name))
        if mode == "raise":
            tag = f"while {VERBS[step]} {name}"
            failures.append((name, f"{step} {name} failed", tag))
        elif mode == "hang":
            budget = budgets[name]
            failures.append(
                (name, f"{name} did not stop within {budget}s", None)
            )
    return failures


def check_failures(errors, failures) -> None:
    """Each error is the expected failure: its class, text and note."""
    assert [str(e) for e in errors] == [f[1] for f in failures]
    for error, (_, _, tag) in zip(errors, failures, strict=True):
        if tag is None:
            assert isinstance(error, TimeoutError)
        else:
            assert isinstance(error, BoomError)
            assert tag in error.__notes__


def start_and_fail(container: Container, api: str, world: World):
    """Start, expecting a failure; return what start raised."""
    if api == "sync":
        with pytest.raises(StartupError) as info:
            container.start()
        return info.value

    async def main():
        task = asyncio.ensure_future(container.astart())
        loop = asyncio.get_running_loop()
        world.interrupt = functools.partial(
            loop.call_soon_threadsafe, task.cancel
        )
        try:
            await task
        except (StartupError, asyncio.CancelledError) as exc:
            return exc
        pytest.fail("start did not fail")

    return asyncio.run(main())


def with_start_hook(drawn: Drawn, target: Spec, hook: str):
    """``drawn`` with ``target`` given a start() hook of the kind ``hook``."""
    specs = list(drawn.specs)
    specs[target.index] = Spec(**{**target.__dict__, "start": hook})
    return Drawn(tuple(specs), drawn.registration), specs[target.index]


def startup_message(mode: str, name: str) -> str:
    stopped = "; started services were stopped"
    return {
        "raise": f"{name} failed to start: BoomError: start {name} failed"
        f"{stopped}",
        "hang": f"{name} did not start within {HANG}s{stopped}",
        "cancel": f"{name} failed to start: CancelledError{stopped}",
        "build": f"{name} could not be built: BoomError: build {name} failed",
    }[mode]


def check_startup_error(error, mode: str, key: type, rollback) -> None:
    """The error names the failed service and keeps rollback failures."""
    if mode == "interrupt":
        assert isinstance(error, asyncio.CancelledError)
        return
    assert error.service is key
    assert str(error) == startup_message(mode, key.__qualname__)
    check_failures(error.rollback_errors, rollback)
    notes = [
        f"during rollback: {type(e).__name__}: {e}"
        for e in error.rollback_errors
    ]
    assert getattr(error, "__notes__", []) == notes
    if mode in {"raise", "build"}:
        assert isinstance(error.__cause__, BoomError)


def rollback_faults(data, drawn: Drawn, target: Spec, mode: str):
    """The failing start (or build) of ``target``, and the rollback's faults.

    Any of the stops and teardowns that the rollback runs may raise or
    hang. Returns the faults, the stop budget of each service with a hang,
    and the timeouts to declare.
    """
    steps = [("stop", s.name) for s in drawn.singletons if s.stop]
    steps += [("teardown", s.name) for s in drawn.singletons if s.has_teardown]
    faults = draw_stop_faults(data, drawn, steps, hangable=set(steps))
    budgets = stop_budgets(faults)
    timeouts = {name: {"stop_timeout": b} for name, b in budgets.items()}
    if mode == "build":
        faults[("build", target.name)] = "raise"
    else:
        faults[("start", target.name)] = mode
    if mode == "hang":
        timeouts.setdefault(target.name, {})["start_timeout"] = HANG
    return faults, budgets, timeouts


@settings(max_examples=EXAMPLES * 3 // 2)
@given(graphs(big=BIG), st.data())
def test_a_failed_start_rolls_back_exactly_what_started(drawn, data):
    """One start fails: the started ones stop in reverse, generators end."""
    if not drawn.singletons:
        return
    mode = data.draw(st.sampled_from(START_FAULTS), label="mode")
    target = data.draw(st.sampled_from(drawn.singletons), label="target")
    if mode != "build" and not target.start:
        # The faulty service needs a start() to fail in.
        hook = data.draw(st.sampled_from(["sync", "async"]), label="hook")
        drawn, target = with_start_hook(drawn, target, hook)
    api = (
        "async"
        if mode == "interrupt"
        else data.draw(st.sampled_from(["sync", "async"]), label="api")
    )
    faults, budgets, timeouts = rollback_faults(data, drawn, target, mode)
    world = World(faults)
    built = Built(drawn, world, timeouts)
    container = built.container()
    order = built.names(container.order)

    with captured_logs() as logs:
        try:
            error = start_and_fail(container, api, world)
        finally:
            world.release.set()

    started = set(logs.started)
    event(f"mode: {mode}")
    event(f"started: {'some' if started else 'none'}")
    note(f"order={order} started={logs.started} events={world.events}")
    hooked = {s.name for s in drawn.singletons if s.start}
    assert started & hooked == {n for _, n in world.of("start")}
    assert target.name not in started or mode == "interrupt"
    if mode == "build":
        assert not world.of("begin")
    # A service whose stop or teardown hangs is not reported as stopped.
    assert logs.stopped == [
        n for n in reversed(order) if n in started and n not in budgets
    ]
    walk = world.of("cancel", "stop", "teardown")
    assert walk == expected_walk(drawn, world, order, started)
    generators = {
        n for _, n in world.of("build") if drawn.by_name(n).has_teardown
    }
    # Every built generator is torn down, unless its service's stop hung.
    cut = {
        n for (step, n), m in faults.items() if (step, m) == ("stop", "hang")
    }
    assert {n for _, n in world.of("teardown")} == generators - (cut & started)
    rollback = stop_failures(walk, faults, budgets)
    check_startup_error(error, mode, built.products[target.index], rollback)
    if mode == "interrupt":
        # Cancelled, run() has no error to carry them: they are kept.
        check_failures(container.lifecycle._interrupted_rollback, rollback)
    # The container is done: stop does nothing, start is refused.
    events = list(world.events)
    container.stop()
    assert world.events == events
    with pytest.raises(StateError):
        container.start()


@settings(max_examples=EXAMPLES)
@given(graphs(big=BIG), st.sampled_from(["sync", "async"]), st.data())
def test_failed_stops_are_collected_and_every_other_step_runs(
    drawn, api, data
):
    """Stops and teardowns that fail are all reported; the rest still run."""
    steps = [("cancel", s.name) for s in drawn.singletons if s.body]
    steps += [("stop", s.name) for s in drawn.singletons if s.stop]
    steps += [("teardown", s.name) for s in drawn.singletons if s.has_teardown]
    # A body that ignores its cancellation stays pending until the loop
    # ends: only asyncio.run() cancels it again at the end.
    hangable = {s for s in steps if s[0] != "cancel" or api == "async"}
    faults = draw_stop_faults(data, drawn, steps, hangable)
    budgets = stop_budgets(faults)
    timeouts = {name: {"stop_timeout": b} for name, b in budgets.items()}
    world = World(faults)
    built = Built(drawn, world, timeouts)
    container = built.container()
    order = built.names(container.order)

    bodies = {s.name for s in drawn.singletons if s.body}
    with captured_logs():
        try:
            error = start_then_stop(container, api, world, bodies)
        finally:
            world.release.set()

    note(f"order={order} events={world.events}")
    walk = world.of("cancel", "stop", "teardown")
    assert walk == expected_walk(drawn, world, order, set(order))
    failures = stop_failures(walk, faults, budgets)
    event(f"failures reported: {min(len(failures), 3)}+")
    if not failures:
        assert error is None
        return
    assert isinstance(error, ShutdownError)
    assert [k.__qualname__ for k in error.services] == [f[0] for f in failures]
    check_failures(error.exceptions, failures)
    names = ", ".join(dict.fromkeys(f[0] for f in failures))
    assert error.message == f"stopping left failures in {names}"


def test_a_failed_sync_stop_is_kept_when_its_teardown_then_overruns():
    """stop() raises, then the teardown hangs: both failures are reported."""
    release = threading.Event()

    class Pool:
        def stop(self):
            message = "stop Pool failed"
            raise BoomError(message)

    def pool() -> Iterator[Pool]:
        yield Pool()
        release.wait()

    container = Container(pool, stop_timeout=HANG)
    container.start()
    try:
        with pytest.raises(ShutdownError) as info:
            container.stop()
    finally:
        release.set()

    assert [f"{type(e).__name__}: {e}" for e in info.value.exceptions] == [
        "BoomError: stop Pool failed",
        f"TimeoutError: {Pool.__qualname__} did not stop within {HANG}s",
    ]


def test_sync_stops_finished_before_the_loop_looks_do_not_hang_stop(
    monkeypatch,
):
    """The worker may end a whole run of sync stops before the loop checks.

    The property tests met this schedule by chance on a busy machine, when
    the loop's thread lost the CPU just after handing the run to a worker;
    here the worker always finishes first.
    """
    from mainspring import _lifecycle
    from mainspring._hooks import SyncStops
    from mainspring._threads import workers

    runs: list[SyncStops] = []

    class Watched(SyncStops):
        def __init__(self, stops) -> None:
            super().__init__(stops)
            runs.append(self)

    class Quick:
        def stop(self):
            pass

    container = Container(Quick)
    container.start()
    submit = workers.submit

    def submit_and_finish(function):
        future = submit(function)
        future.exception()  # waits until the worker is done with it
        return future

    monkeypatch.setattr(_lifecycle, "SyncStops", Watched)
    monkeypatch.setattr(workers, "submit", submit_and_finish)
    outcome = []
    stopper = threading.Thread(
        target=lambda: outcome.append(_stop_and_report(container)),
        daemon=True,
    )
    stopper.start()
    stopper.join(2.0)
    spinning = stopper.is_alive()
    if spinning:
        # Let the loop out, or it would spin for the rest of the session:
        # the stop it waits for now looks overdue.
        for run in runs:
            run.done = 0
            for stop in run.stops:
                stop.budget = 0.0
        stopper.join(GENEROUS)

    assert not spinning
    assert outcome == [None]


def test_the_steps_after_an_overrun_sync_stop_never_run():
    """A stop() that overran and returns later is not followed by more."""
    release, torn_down = threading.Event(), threading.Event()

    class Pool:
        def stop(self):
            release.wait()

    def pool() -> Iterator[Pool]:
        yield Pool()
        torn_down.set()

    container = Container(pool, stop_timeout=HANG)
    container.start()
    with pytest.raises(ShutdownError):
        container.stop()
    release.set()

    # The teardown would run at once; waiting a moment shows that it does
    # not run at all.
    assert not torn_down.wait(0.5)


def test_a_failing_body_is_logged_with_its_service():
    """The ERROR record of a failed run() body names the service."""

    class Failing:
        async def run(self):
            message = "body failed"
            raise BoomError(message)

    container = Container(Failing)

    async def main():
        logged = asyncio.Event()
        logs.on_error = logged.set
        await container.astart()
        # Reported as soon as the body ends, before anything stops it.
        async with asyncio.timeout(GENEROUS):
            await logged.wait()
        with pytest.raises(ShutdownError):
            await container.astop()

    with captured_logs() as logs:
        asyncio.run(main())

    # Once: the stop that finds it failed does not report it again.
    (record,) = logs.errors
    name = Failing.__qualname__
    assert record.getMessage() == f"{name}.run() failed"
    assert record.mainspring_service == name
    assert isinstance(record.exc_info[1], BoomError)


# Overrides


def dependents_of(drawn: Drawn, index: int) -> set[int]:
    """``index`` and every service that depends on it, directly or not."""
    found = {index}
    for spec in drawn.specs[index + 1 :]:
        if found.intersection(spec.deps):
            found.add(spec.index)
    return found


def replacement_for(how: str, world: World, deps: dict[str, type]):
    """A replacement of the kind ``how``, and the class of what it makes.

    What it makes records its build, start, stop and teardown as ``R``.
    """

    def __init__(self, *args):  # noqa: N807 - becomes __init__
        world.record("build", "R")
        self.received = dict(zip(deps, args, strict=True))

    def start(self):
        world.record("start", "R")

    def stop(self):
        world.record("stop", "R")

    __init__.__signature__ = _signature(list(deps), method=True)
    __init__.__annotations__ = dict(deps)
    namespace = {"__init__": __init__, "__qualname__": "R"}
    made = type("R", (), {**namespace, "start": start, "stop": stop})
    if how == "instance":
        return made.__new__(made), made
    if how == "class":
        return made, made
    make_r, returns = _replacement_factory(how, world, made)
    make_r.__signature__ = _signature(list(deps), method=False)
    make_r.__annotations__ = {**deps, "return": returns}
    return make_r, made


def _replacement_factory(how: str, world: World, made: type):
    """A factory of the kind ``how`` for ``made``, and its return type."""
    if how == "function":

        def make_r(*args):
            return made(*args)

        return make_r, made
    if how == "coroutine":

        async def amake_r(*args):
            await asyncio.sleep(0)
            return made(*args)

        return amake_r, made
    if how == "generator":

        def generate_r(*args):
            yield made(*args)
            world.record("teardown", "R")

        return generate_r, Iterator[made]

    async def agenerate_r(*args):
        yield made(*args)
        world.record("teardown", "R")

    return agenerate_r, AsyncIterator[made]


REPLACEMENTS = {
    "sync": ("instance", "class", "function", "generator"),
    "async": (
        "instance",
        "class",
        "function",
        "coroutine",
        "generator",
        "async_generator",
    ),
}


def draw_replacement(data, drawn: Drawn, built: Built, api: str):
    """A target, and a replacement of a kind ``api`` and its scope allow.

    Returns the target, the kind of replacement, the replacement and the
    class of what it makes.
    """
    how = data.draw(st.sampled_from(REPLACEMENTS[api]), label="replacement")
    # Only a singleton can have a generator as its provider.
    targets = drawn.singletons if how in TEARDOWN_KINDS else drawn.specs
    if not targets:
        targets, how = drawn.specs, "function"
    target = data.draw(st.sampled_from(targets), label="target")
    # The replacement may need services the original did not, as long as
    # that makes no cycle and no singleton needs a transient.
    stale = dependents_of(drawn, target.index)
    usable = [
        s
        for s in drawn.specs
        if s.index not in stale and (s.is_singleton or not target.is_singleton)
    ]
    needs = data.draw(
        st.lists(st.sampled_from(usable), max_size=2, unique=True)
        if usable and how != "instance"
        else st.just([]),
        label="replacement needs",
    )
    deps = {f"s{s.index}": built.products[s.index] for s in needs}
    replacement, made = replacement_for(how, built.world, deps)
    return target, how, replacement, made


class Driver:
    """The sync or the async API, called from one coroutine.

    With ``sync``, the sync methods are called as they are (``start`` runs
    the services on a private loop in a thread of its own); with
    ``async``, their async twins are awaited on the running loop.
    """

    def __init__(self, api: str) -> None:
        self.api = api

    async def get(self, container: Container, key):
        if self.api == "sync":
            return container.get(key)
        return await container.aget(key)

    async def start(self, container: Container) -> None:
        if self.api == "sync":
            container.start()
        else:
            await container.astart()

    async def stop(self, container: Container) -> None:
        if self.api == "sync":
            container.stop()
        else:
            await container.astop()

    async def get_all(self, container: Container, built: Built, specs):
        """Every spec's instance from ``container``, by spec name."""
        return {
            s.name: await self.get(container, built.products[s.index])
            for s in specs
        }


def built_by_getting(drawn: Drawn, specs) -> set[str]:
    """The singletons that getting each of ``specs`` builds."""
    found = ancestors(drawn)
    names = {s.name for s in specs}.union(*(found[s.name] for s in specs))
    return {n for n in names if drawn.by_name(n).is_singleton}


def already_built(name: str) -> str:
    return (
        f"cannot override {name}: it is already built; override before the "
        "first get() or start()"
    )


def check_dependents(drawn, target, made, inside, after) -> None:
    """Inside the block they got the replacement, after it the original."""
    param = f"s{target.index}"
    key = type(after[target.name])
    for spec in drawn.specs:
        if target.index not in spec.deps:
            continue
        assert type(inside[spec.name].received[param]) is made
        assert type(after[spec.name].received[param]) is key
        if target.is_singleton:
            assert inside[spec.name].received[param] is inside[target.name]


def check_kept_or_rebuilt(drawn, stale, before, inside, after) -> None:
    """Singletons that used the replacement are rebuilt; others are kept."""
    for spec in drawn.singletons:
        if spec.index in stale:
            assert after[spec.name] is not inside[spec.name]
        else:
            assert after[spec.name] is inside[spec.name]
        if spec.name in before:
            assert after[spec.name] is before[spec.name]


def override_kinds(api: str) -> tuple[str, ...]:
    """Providers the graph may hold: only sync ones under sync get()."""
    return SYNC_KINDS if api == "sync" else ALL_KINDS


def torn_down_as_the_block_ends(drawn, stale, target, how) -> set[str]:
    """The sync generators made from the replacement, dropped at its end.

    Async ones wait for the container's stop: they need its loop.
    """
    names = {
        drawn.specs[i].name
        for i in stale - {target.index}
        if drawn.specs[i].kind == "generator"
    }
    return names | ({"R"} if how == "generator" else set())


@settings(max_examples=EXAMPLES * 2)
@given(st.sampled_from(["sync", "async"]), st.data())
def test_an_override_is_undone_after_its_block_and_stays_in_its_container(
    api, data
):
    """Inside the block dependents get the replacement; after it, nothing."""
    drawn = data.draw(
        graphs(big=OVERRIDDEN, kinds=override_kinds(api), with_hooks=False),
        label="graph",
    )
    world = World()
    built = Built(drawn, world)
    target, how, replacement, made = draw_replacement(data, drawn, built, api)
    key = built.products[target.index]
    stale = dependents_of(drawn, target.index)
    validate_first = data.draw(st.booleans(), label="validate first")
    early = data.draw(
        st.lists(st.sampled_from(drawn.specs), unique=True, max_size=SEEDED),
        label="built before the block",
    )
    refused = target.name in built_by_getting(drawn, early)
    event(f"override: {'refused' if refused else how}")
    c1, c2 = built.container(), built.container()
    if validate_first:
        assert c1.order == c2.order
    driver = Driver(api)

    async def scenario():
        before = await driver.get_all(c1, built, early)
        if refused:
            with (
                pytest.raises(StateError) as info,
                c1.override(key, replacement),
            ):
                pytest.fail("an override of a built key began")
            assert str(info.value) == already_built(target.name)
            assert not c1._overrides
            assert type(await driver.get(c1, key)) is key
            await driver.stop(c1)
            return None
        with c1.override(key, replacement):
            inside = await driver.get_all(c1, built, drawn.specs)
            assert type(await driver.get(c2, key)) is key
            teardowns_inside = len(world.of("teardown"))
        evicted = [n for _, n in world.of("teardown")][teardowns_inside:]
        after = await driver.get_all(c1, built, drawn.specs)
        # Every instance a generator made, in either container, is torn
        # down when they stop.
        await driver.stop(c1)
        await driver.stop(c2)
        return before, inside, evicted, after

    outcome = asyncio.run(scenario())
    if outcome is None:
        return
    before, inside, evicted, after = outcome
    if how == "instance":
        assert inside[target.name] is replacement
    assert type(inside[target.name]) is made
    assert type(after[target.name]) is key
    check_dependents(drawn, target, made, inside, after)
    check_kept_or_rebuilt(drawn, stale, before, inside, after)
    expected = torn_down_as_the_block_ends(drawn, stale, target, how)
    assert sorted(evicted) == sorted(expected)
    assert not c1._overrides
    generator_made = [
        n
        for _, n in world.of("build")
        if (n == "R" and how in TEARDOWN_KINDS)
        or (n != "R" and drawn.by_name(n).has_teardown)
    ]
    assert sorted(n for _, n in world.of("teardown")) == sorted(generator_made)


# When the container starts, relative to the override's block.
RUNS = ("started inside", "overridden while running", "running at the end")


def ends_while_running(name: str) -> str:
    return (
        f"cannot end the override of {name} while the container runs: "
        "started services hold the replacement; stop the container inside "
        "the block"
    )


class OverriddenRun:
    """A run of one container around an override, beside another container.

    ``run`` is one of `RUNS`. The scenario returns the start order of the
    container that ran.
    """

    def __init__(self, built: Built, api: str, target: Spec, replacement):
        self.built = built
        self.driver = Driver(api)
        self.target = target
        self.key = built.products[target.index]
        self.replacement = replacement
        self.container = built.container()
        self.other = built.container()

    async def __call__(self, run: str, made: type) -> list[str]:
        container, key = self.container, self.key
        if run == "overridden while running":
            await self.driver.start(container)
            order = self.built.names(container.order)
            await self._override_while_running(made)
        else:
            block = container.override(key, self.replacement)
            block.__enter__()
            await self.driver.start(container)
            # The replacement may need other services: the order is the
            # one computed with it.
            order = self.built.names(container.order)
            await self.check_held(made)
            if run == "started inside":
                await self.driver.stop(container)
                block.__exit__(None, None, None)
            elif self.target.is_singleton:
                with pytest.raises(StateError) as info:
                    block.__exit__(None, None, None)
                assert str(info.value) == ends_while_running(self.target.name)
            else:
                # No singleton can hold a transient: the block may end.
                block.__exit__(None, None, None)
                assert type(await self.driver.get(container, key)) is key
        await self.driver.stop(container)
        await self.driver.stop(self.other)
        return order

    async def _override_while_running(self, made: type) -> None:
        container, key = self.container, self.key
        if self.target.is_singleton:
            with (
                pytest.raises(StateError) as info,
                container.override(key, self.replacement),
            ):
                pytest.fail("a started singleton was overridden")
            assert str(info.value) == already_built(self.target.name)
            assert type(await self.driver.get(container, key)) is key
        else:
            with container.override(key, self.replacement):
                await self.check_held(made)

    async def check_held(self, made: type) -> None:
        """Dependents hold the replacement; the other container's do not.

        Only singletons are built by a start, so the transient dependents
        are made here, in both containers.
        """
        get, key = self.driver.get, self.key
        param = f"s{self.target.index}"
        assert type(await get(self.container, key)) is made
        assert type(await get(self.other, key)) is key
        for spec in self.built.drawn.specs:
            if self.target.index not in spec.deps:
                continue
            dependent = self.built.products[spec.index]
            held = (await get(self.container, dependent)).received[param]
            assert type(held) is made
            if self.target.is_singleton:
                assert held is await get(self.container, key)
            own = (await get(self.other, dependent)).received[param]
            assert type(own) is key


@settings(max_examples=EXAMPLES)
@given(st.sampled_from(["sync", "async"]), st.sampled_from(RUNS), st.data())
def test_an_override_holds_while_its_container_runs_and_then_ends(
    api, run, data
):
    """Started inside a block, services hold the replacement until stopped.

    A started singleton cannot be overridden, and a block cannot end while
    started services hold its replacement; either way the container still
    stops cleanly, and no other container ever sees the replacement.
    """
    drawn = data.draw(graphs(big=OVERRIDDEN, kinds=override_kinds(api)))
    world = World()
    built = Built(drawn, world)
    target, how, replacement, made = draw_replacement(data, drawn, built, api)
    event(f"target: {target.scope}")
    scenario = OverriddenRun(built, api, target, replacement)

    with captured_logs() as logs:
        order = asyncio.run(scenario(run, made))

    # Stopped in exact reverse, replacement or not.
    assert logs.stopped == order[::-1]
    holds = target.is_singleton and run != "overridden while running"
    assert world.of("start").count(("start", "R")) == int(holds)
    assert world.of("stop").count(("stop", "R")) == int(holds)
    assert world.events.count(("teardown", "R")) == int(
        holds and how in TEARDOWN_KINDS
    )
    if run != "running at the end" or not target.is_singleton:
        assert not scenario.container._overrides
    # A container made afterwards knows nothing of the replacement.
    events = len(world.events)

    async def afterwards():
        later = built.container()
        await scenario.driver.start(later)
        assert type(await scenario.driver.get(later, scenario.key)) is not made
        await scenario.driver.stop(later)

    asyncio.run(afterwards())
    assert not [e for e in world.events[events:] if e[1] == "R"]


@settings(max_examples=EXAMPLES)
@given(st.sampled_from(["sync", "async"]), st.data())
def test_constructor_overrides_never_reach_another_container(api, data):
    """``Container(overrides=...)`` changes that container only."""
    drawn = data.draw(
        graphs(big=OVERRIDDEN, kinds=override_kinds(api)), label="graph"
    )
    built = Built(drawn, World())
    targets = data.draw(
        st.lists(st.sampled_from(drawn.specs), min_size=1, unique=True),
        label="targets",
    )
    replacements = {built.products[s.index]: object() for s in targets}
    driver = Driver(api)

    async def scenario():
        overridden = built.container(overrides=replacements)
        plain_ = built.container()
        # Both run at once, each with its own instances.
        await driver.start(overridden)
        await driver.start(plain_)
        for spec in drawn.specs:
            key = built.products[spec.index]
            if key in replacements:
                assert await driver.get(overridden, key) is replacements[key]
            assert type(await driver.get(plain_, key)) is key
        later = built.container()
        for key in replacements:
            assert type(await driver.get(later, key)) is key
        for container in (overridden, plain_, later):
            await driver.stop(container)

    asyncio.run(scenario())


class Lookalike:
    """A replacement that equals every other lookalike: only identity tells."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lookalike)

    def __hash__(self) -> int:
        return 0


@settings(max_examples=EXAMPLES)
@given(graphs(big=OVERRIDDEN, kinds=SYNC_KINDS, with_hooks=False), st.data())
def test_nested_overrides_unwind_one_block_at_a_time(drawn, data):
    """Leaving each nested block restores exactly what the outer one set."""
    built = Built(drawn, World())
    layers = data.draw(
        st.lists(st.sampled_from(drawn.specs), min_size=1, max_size=6),
        label="overridden, outermost first",
    )
    container = built.container()
    stack = []
    for spec in layers:
        key = built.products[spec.index]
        replacement = Lookalike()
        block = container.override(key, replacement)
        block.__enter__()
        stack.append((key, replacement, block))

    while True:
        for key in {k for k, _, _ in stack} | set(built.products):
            current = [r for k, r, _ in stack if k is key]
            got = container.get(key)
            if current:
                assert got is current[-1]
            else:
                assert type(got) is key
        if not stack:
            break
        stack.pop()[2].__exit__(None, None, None)
    container.stop()
