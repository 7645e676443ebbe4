"""The object graphs every library is asked to build.

Each setup gets classes of its own, generated from source as a programmer
would write them: an ``__init__`` whose parameters are annotated with the
classes they need, and, for the lifecycle scenarios, ``start`` and ``stop``
hooks plus generator factories for the libraries whose lifecycle is a
generator's code after ``yield``. Fresh classes keep one library's caches
(signatures read, attributes set by decorators) from helping another.

The classes live in small generated modules registered in ``sys.modules``,
a few hundred classes each, the way an application spreads its services
over modules; ``Spec.dispose`` removes them again.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import random
import sys
import types
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Classes per generated module.
_MODULE_SIZE = 250
_serial = itertools.count()

TRANSIENT_GRAPH = {
    # A transient root over six transient classes; D is needed twice, so a
    # correct container builds two of them (and two F) per request.
    "F": (),
    "E": (),
    "D": ("F",),
    "C": ("D", "E"),
    "B": ("D",),
    "A": ("B", "C"),
}

SINGLETON_GRAPH = {
    "Settings": (),
    "Database": ("Settings",),
}

MIXED_GRAPH = {
    "Settings": (),
    "Database": ("Settings",),
    "Cache": ("Settings",),
    "UserRepository": ("Database",),
    "OrderRepository": ("Database", "Cache"),
    "UserService": ("UserRepository", "Cache"),
    "OrderService": ("OrderRepository", "UserRepository"),
    "Handler": ("UserService", "OrderService"),
}
MIXED_SINGLETONS = ("Settings", "Database", "Cache")


@dataclass(eq=False)
class Spec:
    """A generated graph: classes in dependency order and how they connect."""

    classes: list[type]
    deps: dict[type, tuple[type, ...]]
    params: dict[type, tuple[str, ...]]
    singletons: frozenset[type]
    root: type | None = None
    # Generator factories (async ones when the hooks are async).
    factories: dict[type, Callable[..., Any]] = field(default_factory=dict)
    hooks: str | None = None
    events: list[tuple[str, object]] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.classes)

    def is_singleton(self, cls: type) -> bool:
        return cls in self.singletons

    def dispose(self) -> None:
        """Forget the generated modules (the classes die with the spec)."""
        for name in self.modules:
            sys.modules.pop(name, None)
        self.modules.clear()


def singleton_graph() -> Spec:
    return _named(SINGLETON_GRAPH, singletons=SINGLETON_GRAPH, root="Database")


def transient_graph() -> Spec:
    return _named(TRANSIENT_GRAPH, singletons=(), root="A")


def mixed_graph() -> Spec:
    return _named(MIXED_GRAPH, singletons=MIXED_SINGLETONS, root="Handler")


def random_dag(
    n: int,
    *,
    seed: int = 20261203,
    hooks: str | None = None,
    record: bool = False,
) -> Spec:
    """``n`` singleton classes, each needing up to three earlier ones.

    The same ``n`` and ``seed`` give the same shape; every call gives new
    classes. ``hooks`` is ``"async"`` or ``"sync"`` to add start and stop
    hooks (and generator factories); ``record`` makes the hooks append to
    ``Spec.events`` instead of doing nothing.
    """
    rng = random.Random(seed)
    width = len(str(n))
    names = [f"Svc{i:0{width}d}" for i in range(n)]
    shape: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(names):
        count = min(i, rng.choice((0, 1, 1, 2, 2, 3)))
        picked = sorted(rng.sample(range(i), count))
        shape[name] = tuple(names[j] for j in picked)
    return _generate(shape, singletons=names, hooks=hooks, record=record)


def _named(
    shape: dict[str, tuple[str, ...]],
    *,
    singletons: object,
    root: str,
) -> Spec:
    spec = _generate(shape, singletons=singletons)
    spec.root = next(c for c in spec.classes if c.__name__ == root)
    return spec


def _generate(
    shape: dict[str, tuple[str, ...]],
    *,
    singletons: Any,
    hooks: str | None = None,
    record: bool = False,
) -> Spec:
    """Execute the source of every class in ``shape``: new classes."""
    serial = next(_serial)
    made: dict[str, type] = {}
    spec = Spec([], {}, {}, frozenset(), hooks=hooks)
    chunks = _compiled(tuple(shape.items()), hooks, record)
    for index, (chunk, code) in enumerate(chunks):
        module_name = f"bench_generated_{serial}_{index}"
        module = types.ModuleType(module_name)
        namespace = module.__dict__
        namespace.update(
            Iterator=Iterator, AsyncIterator=AsyncIterator, EVENTS=spec.events
        )
        for name in chunk:
            # What an import at the top of a real module would bring in.
            namespace.update(
                {dep: made[dep] for dep in shape[name] if dep in made}
            )
        sys.modules[module_name] = module
        spec.modules.append(module_name)
        exec(code, namespace)  # noqa: S102 - the classes are written here
        for name in chunk:
            cls = namespace[name]
            made[name] = cls
            spec.classes.append(cls)
            spec.params[cls] = tuple(_param(dep) for dep in shape[name])
            spec.deps[cls] = tuple(made[dep] for dep in shape[name])
            if hooks:
                spec.factories[cls] = namespace[f"make_{name}"]
    spec.singletons = frozenset(made[name] for name in singletons)
    return spec


@functools.cache
def _compiled(
    shape: tuple[tuple[str, tuple[str, ...]], ...],
    hooks: str | None,
    record: bool,
) -> list[tuple[list[str], types.CodeType]]:
    """Compile each module's source once; executing it again is cheap."""
    names = [name for name, _ in shape]
    deps = dict(shape)
    chunks = []
    for start in range(0, len(names), _MODULE_SIZE):
        chunk = names[start : start + _MODULE_SIZE]
        source = "\n".join(
            _class_source(name, deps[name], hooks=hooks, record=record)
            for name in chunk
        )
        # Kept in linecache so that inspect.getsource works, as for a file
        # (diwire reads a generator factory's source, tracebacks show it).
        filename = f"<bench-generated {next(_serial)}>"
        linecache.cache[filename] = (
            len(source),
            None,
            source.splitlines(keepends=True),
            filename,
        )
        # dont_inherit: annotations must be evaluated, as in a module
        # without ``from __future__ import annotations``.
        code = compile(source, filename, "exec", dont_inherit=True)
        chunks.append((chunk, code))
    return chunks


def _param(name: str) -> str:
    return f"p_{name.lower()}"


def _class_source(
    name: str, deps: tuple[str, ...], *, hooks: str | None, record: bool
) -> str:
    params = [_param(dep) for dep in deps]
    signature = "".join(
        f", {param}: {dep}" for param, dep in zip(params, deps, strict=True)
    )
    lines = [f"class {name}:", f"    def __init__(self{signature}) -> None:"]
    lines += [f"        self.{param} = {param}" for param in params] or [
        "        pass"
    ]
    if hooks:
        prefix = "async " if hooks == "async" else ""
        for hook in ("start", "stop"):
            body = f"EVENTS.append(({hook!r}, self))" if record else "pass"
            lines += [
                f"    {prefix}def {hook}(self) -> None:",
                f"        {body}",
            ]
        arguments = ", ".join(params)
        lines += _factory_source(
            name, signature, arguments, is_async=hooks == "async"
        )
    return "\n".join(lines) + "\n"


def _factory_source(
    name: str, signature: str, arguments: str, *, is_async: bool
) -> list[str]:
    """A generator factory: the service's start before yield, stop after."""
    prefix, yields, hook_wait = (
        ("async ", "AsyncIterator", "await ")
        if is_async
        else ("", "Iterator", "")
    )
    parameters = signature.removeprefix(", ")
    return [
        f"{prefix}def make_{name}({parameters}) -> {yields}[{name}]:",
        f"    service = {name}({arguments})",
        f"    {hook_wait}service.start()",
        "    try:",
        "        yield service",
        "    finally:",
        f"        {hook_wait}service.stop()",
    ]


def expression(spec: Spec, cls: type, names: dict[type, str]) -> str:
    """The nested constructor call that builds ``cls`` by hand.

    A singleton is the global ``the_<name>``, built beforehand.
    """
    if spec.is_singleton(cls):
        return f"the_{names[cls]}"
    args = ", ".join(expression(spec, dep, names) for dep in spec.deps[cls])
    return f"{names[cls]}({args})"


# Checks, run before any timing.


def check_pair(spec: Spec, first: object, second: object) -> None:
    """Two results of one operation: right types, sharing as scoped.

    Singletons must be the same object in both trees; every transient must
    be new, also within one tree (D is needed twice under A).
    """
    assert spec.root is not None
    seen: set[int] = set()
    stack = [(spec.root, first, second)]
    while stack:
        cls, one, other = stack.pop()
        assert type(one) is cls, f"expected {cls.__name__}, got {one!r}"
        assert type(other) is cls, f"expected {cls.__name__}, got {other!r}"
        if spec.is_singleton(cls):
            assert one is other, f"singleton {cls.__name__} built twice"
        else:
            assert one is not other, f"transient {cls.__name__} shared"
            for instance in (one, other):
                assert id(instance) not in seen, (
                    f"transient {cls.__name__} reused inside one graph"
                )
                seen.add(id(instance))
        for param, dep in zip(spec.params[cls], spec.deps[cls], strict=True):
            stack.append((dep, getattr(one, param), getattr(other, param)))


def check_all(spec: Spec, get: Callable[[type], object]) -> None:
    """Every class resolved once, wired to the shared instances it needs."""
    for cls in spec.classes:
        instance = get(cls)
        assert type(instance) is cls, f"expected {cls.__name__}"
        assert get(cls) is instance, f"singleton {cls.__name__} built twice"
        for param, dep in zip(spec.params[cls], spec.deps[cls], strict=True):
            assert getattr(instance, param) is get(dep), (
                f"{cls.__name__}.{param} is not the shared {dep.__name__}"
            )


def check_lifecycle(spec: Spec) -> None:
    """Every service started and stopped once, dependencies started first."""
    starts = [s for event, s in spec.events if event == "start"]
    stops = [s for event, s in spec.events if event == "stop"]
    assert len(starts) == len(spec), f"{len(starts)} of {len(spec)} started"
    assert len(stops) == len(spec), f"{len(stops)} of {len(spec)} stopped"
    assert {type(s) for s in starts} == set(spec.classes)
    assert {type(s) for s in stops} == set(spec.classes)
    started_at = {type(s): i for i, s in enumerate(starts)}
    for cls in spec.classes:
        for dep in spec.deps[cls]:
            assert started_at[dep] < started_at[cls], (
                f"{cls.__name__} started before its dependency {dep.__name__}"
            )
    spec.events.clear()
