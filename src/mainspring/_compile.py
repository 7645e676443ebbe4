"""Generated code that builds a transient, as if written by hand.

For each transient key the container writes one small function from the
graph: one line per instance to make, dependencies first, singletons read
from the cache. ``Container.explain(key)`` shows the source. The lines are
flat rather than nested, so a chain of any depth compiles.
"""

from __future__ import annotations

import keyword
import linecache
import re
from collections.abc import Callable, Iterator
from typing import Any

from mainspring._graph import Graph, Node, postorder
from mainspring._keys import describe
from mainspring._signature import Kind


class _Names:
    """Identifiers for the objects the generated code refers to."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self._by_id: dict[int, str] = {}
        self._taken: set[str] = set()

    def of(self, value: object, hint: str) -> str:
        """The name bound to ``value`` in the namespace."""
        name = self._by_id.get(id(value))
        if name is None:
            name = self.fresh(hint)
            self._by_id[id(value)] = name
            self.namespace[name] = value
        return name

    def fresh(self, hint: str) -> str:
        """A new identifier resembling ``hint``."""
        # The last part of a qualified name reads best: Outer.<locals>.Api
        # is Api in the generated code.
        hint = hint.rsplit(".", 1)[-1].split("[", 1)[0]
        base = re.sub(r"\W+", "_", hint).strip("_") or "value"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"_{base}"
        name, suffix = base, 1
        while name in self._taken or name in _RESERVED:
            suffix += 1
            name = f"{base}_{suffix}"
        self._taken.add(name)
        return name


_RESERVED = frozenset({"c", "build", "make"})


def source(
    key: object, graph: Graph, *, is_async: bool
) -> tuple[str, dict[str, Any]]:
    """The source of the maker of ``key``, and the namespace it runs in."""
    names = _Names()
    lines: list[str] = []
    made: list[str] = []
    for node, arity in _steps(key, graph):
        values = iter(made[len(made) - arity :])
        del made[len(made) - arity :]
        call = _call(node, graph, names, values, is_async=is_async)
        variable = names.fresh(_snake(describe(node.key)))
        lines.append(f"    {variable} = {call}")
        made.append(variable)
    last = lines.pop().split(" = ", 1)[1]
    lines.append(f"    return {last}")
    header = "async def make():" if is_async else "def make():"
    return "\n".join([header, *lines, ""]), names.namespace


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
    filename = f"<mainspring {kind}maker of {describe(key)}>"
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102
    linecache.cache[filename] = (
        len(text),
        None,
        text.splitlines(keepends=True),
        filename,
    )
    maker: Callable[[], Any] = namespace["make"]
    return maker


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
    for dep in postorder([key], graph.deps, set()):
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
