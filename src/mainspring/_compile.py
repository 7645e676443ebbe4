"""Generated code that builds a transient, as if written by hand.

For each transient key the container writes one small function from the
graph: one line per instance to make, dependencies first, singletons read
from the cache. ``Container.explain(key)`` shows the source. The lines are
flat rather than nested, so a chain of any depth compiles.

The container's ``get`` and ``aget`` are generated too (see `Entry`): the
bodies of the first transients asked for are written into them, so that a
request for one of those runs one function, as a hand-written factory
would, and a built singleton costs a dict lookup.
"""

from __future__ import annotations

import keyword
import linecache
import re
from _thread import allocate_lock
from collections.abc import Callable, Iterator
from typing import Any

from mainspring._graph import Graph, Node, postorder
from mainspring._keys import describe
from mainspring._signature import Kind


class _Names:
    """Identifiers for the objects the generated code refers to.

    Globals (``of``) are bound in ``namespace`` once and for good; locals
    (``fresh``) belong to one piece of source, and `forget_locals` frees
    them for the next. Neither takes a name the other holds.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self._by_id: dict[int, str] = {}
        self._globals: set[str] = set()
        self._locals: set[str] = set()

    def of(self, value: object, hint: str) -> str:
        """The global name bound to ``value`` in the namespace."""
        name = self._by_id.get(id(value))
        if name is None:
            name = self._new(hint)
            self._globals.add(name)
            self._by_id[id(value)] = name
            self.namespace[name] = value
        return name

    def fresh(self, hint: str) -> str:
        """A new local variable resembling ``hint``."""
        name = self._new(hint)
        self._locals.add(name)
        return name

    def forget_locals(self) -> None:
        """Let a new piece of source reuse the local names."""
        self._locals.clear()

    def _new(self, hint: str) -> str:
        # The last part of a qualified name reads best: Outer.<locals>.Api
        # is Api in the generated code.
        hint = hint.rsplit(".", 1)[-1].split("[", 1)[0]
        base = re.sub(r"\W+", "_", hint).strip("_") or "value"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"_{base}"
        name, suffix = base, 1
        while (
            name in self._globals or name in self._locals or name in _RESERVED
        ):
            suffix += 1
            name = f"{base}_{suffix}"
        return name


_RESERVED = frozenset({"c", "build", "make", "get", "aget", "missing", "key"})


def source(
    key: object, graph: Graph, *, is_async: bool
) -> tuple[str, dict[str, Any]]:
    """The source of the maker of ``key``, and the namespace it runs in."""
    names = _Names()
    lines = _body(key, graph, names, is_async=is_async)
    header = "async def make():" if is_async else "def make():"
    return "\n".join([header, *lines, ""]), names.namespace


_NESTED = 16
"""How deep calls nest in one expression before a local variable holds one.

Nested calls skip the store and load of a variable per instance; a bound
keeps the expression within what the compiler accepts at any depth.
"""


def _body(
    key: object, graph: Graph, names: _Names, *, is_async: bool
) -> list[str]:
    """The lines that make ``key``, ending with its ``return``."""
    lines: list[str] = []
    made: list[tuple[str, int]] = []  # expressions, with their depth
    for node, arity in _steps(key, graph):
        taken = made[len(made) - arity :]
        del made[len(made) - arity :]
        values = iter([expression for expression, _ in taken])
        call = _call(node, graph, names, values, is_async=is_async)
        depth = 1 + max((d for _, d in taken), default=0)
        if depth < _NESTED:
            made.append((call, depth))
        else:
            variable = names.fresh(_snake(describe(node.key)))
            lines.append(f"    {variable} = {call}")
            made.append((variable, 0))
    lines.append(f"    return {made[0][0]}")
    return lines


def compile_maker(
    key: object,
    graph: Graph,
    cache: dict[Any, Any],
    build: Callable[[object], Any],
    *,
    is_async: bool,
) -> Callable[[], Any]:
    """Compile the maker of ``key``; its source is kept for tracebacks."""
    text, namespace = source(key, graph, is_async=is_async)
    namespace["c"] = cache
    namespace["build"] = build
    kind = "async " if is_async else ""
    maker: Callable[[], Any] = _run(
        text, f"<mainspring {kind}maker of {describe(key)}>", namespace
    )["make"]
    return maker


def _run(text: str, filename: str, namespace: dict[str, Any]) -> Any:
    """Execute ``text`` in ``namespace``, keeping it for tracebacks."""
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102
    linecache.cache[filename] = (
        len(text),
        None,
        text.splitlines(keepends=True),
        filename,
    )
    return namespace


INLINED = 8
"""How many transients' bodies ``get`` (and ``aget``) carry inline."""


class Entry:
    """A container's generated ``get`` or ``aget``.

    ``function`` is made once and handed out for the container's life; what
    changes is its code. Before any transient is inlined it reads::

        def get(key):
            try:
                return c[key]
            except (KeyError, TypeError):
                pass
            return missing(key)

    and each of the first `INLINED` transients compiled adds an
    ``if key is Handler:`` branch in front, holding the body of its maker.
    Other transients are reached through ``missing``, like any key not yet
    built. The cache is read in a ``try`` because a hit, a built singleton,
    is the common case: it then costs one lookup, and the raised
    ``KeyError`` is paid only on the slower paths. A ``TypeError`` is an
    unhashable key, which ``missing`` explains.

    Swapping ``__code__`` rather than the function keeps every reference to
    ``container.get`` current. Names are never rebound in the namespace, so
    code a thread is still running keeps meaning what it meant.
    """

    def __init__(
        self,
        cache: dict[Any, Any],
        missing: Callable[[object], Any],
        build: Callable[[object], Any],
        *,
        is_async: bool,
    ) -> None:
        self._is_async = is_async
        self._names = _Names()
        namespace = self._names.namespace
        namespace.update(c=cache, missing=missing, build=build)
        self._lock = allocate_lock()
        self._graph: Graph | None = None
        self._inlined: list[object] = []
        self._serial = 0
        self.function: Callable[[object], Any] = self._compile()

    def reset(self, graph: Graph | None) -> None:
        """Forget every inlined body: ``graph`` is the one now in force."""
        with self._lock:
            self._graph = graph
            if self._inlined:
                self._inlined.clear()
                self.function.__code__ = self._compile().__code__

    def inline(self, key: object, graph: Graph) -> None:
        """Write the body of ``key``'s maker into the function, if room."""
        with self._lock:
            if (
                graph is not self._graph
                or key in self._inlined
                or len(self._inlined) >= INLINED
            ):
                return
            self._inlined.append(key)
            self.function.__code__ = self._compile().__code__

    def source(self) -> str:
        """The source of the function as it is now."""
        return self._source()[0]

    def _source(self) -> tuple[str, str]:
        names = self._names
        names.forget_locals()
        name = "aget" if self._is_async else "get"
        lines = [f"{'async ' if self._is_async else ''}def {name}(key):"]
        for key in self._inlined:
            assert self._graph is not None  # noqa: S101 - set by reset
            body = _body(key, self._graph, names, is_async=self._is_async)
            lines.append(f"    if key is {names.of(key, describe(key))}:")
            lines.extend(f"    {line}" for line in body)
        call = "await missing(key)" if self._is_async else "missing(key)"
        lines += [
            "    try:",
            "        return c[key]",
            "    except (KeyError, TypeError):",
            "        pass",
            f"    return {call}",
            "",
        ]
        return "\n".join(lines), name

    def _compile(self) -> Callable[[object], Any]:
        text, name = self._source()
        self._serial += 1
        filename = f"<mainspring {name}, version {self._serial}>"
        function: Callable[[object], Any] = _run(
            text, filename, self._names.namespace
        ).pop(name)
        return function


def _steps(key: object, graph: Graph) -> Iterator[tuple[Node, int]]:
    """The transient tree under ``key`` in post-order, with each arity.

    A tree, not the graph: a transient needed twice is made twice, as its
    scope says. Iterative, so depth is not limited by recursion.
    """
    stack = [(key, _transients(graph, key))]
    while stack:
        current, deps = stack[-1]
        for dep in deps:
            stack.append((dep, _transients(graph, dep)))
            break
        else:
            stack.pop()
            arity = sum(1 for _ in _transients(graph, current))
            yield graph.nodes[current], arity


def singletons_read(key: object, graph: Graph) -> list[object]:
    """The singletons the maker of ``key`` reads from the cache."""
    read: dict[object, None] = {}
    for node, _ in _steps(key, graph):
        for arg in graph.args[node.key]:
            if arg.key is not None and graph.nodes[arg.key].is_singleton:
                read[arg.key] = None
    return list(read)


def _transients(graph: Graph, key: object) -> Iterator[object]:
    for arg in graph.args[key]:
        if arg.key is not None and not graph.nodes[arg.key].is_singleton:
            yield arg.key


def _call(
    node: Node,
    graph: Graph,
    names: _Names,
    values: Iterator[str],
    *,
    is_async: bool,
) -> str:
    if node.kind is Kind.INSTANCE:
        return names.of(node.provider, describe(node.key))
    parts = []
    for arg in graph.args[node.key]:
        if arg.key is None:
            value = (
                "None"
                if arg.value is None
                else names.of(arg.value, f"{arg.name}_default")
            )
        elif graph.nodes[arg.key].is_singleton:
            name = names.of(arg.key, describe(arg.key))
            value = (
                f"(c[{name}] if {name} in c else await build({name}))"
                if is_async
                else f"c[{name}]"
            )
        else:
            value = next(values)
        parts.append(value if arg.positional else f"{arg.name}={value}")
    provider = names.of(node.provider, describe(node.provider))
    call = f"{provider}({', '.join(parts)})"
    return f"await {call}" if node.kind is Kind.COROUTINE else call


def _snake(name: str) -> str:
    name = name.rsplit(".", 1)[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def first_async(key: object, graph: Graph) -> Node | None:
    """The first node ``key`` needs that only an async maker can make."""
    for dep in postorder(key, graph.deps, set()):
        node = graph.nodes[dep]
        if node.kind.is_async:
            return node
    return None


def singleton_source(node: Node, graph: Graph) -> str:
    """The one call that builds a singleton, as `Container.explain` shows."""
    names = _Names()
    call = _call(node, graph, names, iter(()), is_async=node.kind.is_async)
    if node.kind is Kind.GENERATOR:
        call = f"next({call})"
    elif node.kind is Kind.ASYNC_GENERATOR:
        call = f"await anext({call})"
    target = names.of(node.key, describe(node.key))
    return (
        f"# singleton {describe(node.key)}: built once, then shared\n"
        f"c[{target}] = {call}\n"
    )
