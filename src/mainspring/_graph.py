"""The dependency graph: wiring, validation and the start order."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from mainspring._keys import describe
from mainspring._registry import Declaration
from mainspring._signature import EMPTY, Kind, Param
from mainspring.exceptions import (
    CircularDependencyError,
    MissingDependencyError,
    ScopeError,
)

# Plain classes with slots, not dataclasses: thousands are made per graph,
# and a frozen dataclass's __init__ costs several times as much.


class Node:
    """One provider in the graph, under the key it provides.

    ``index`` is its registration index, the start order's tie-breaker.
    """

    __slots__ = (
        "declaration",
        "index",
        "is_async",
        "is_singleton",
        "key",
        "kind",
        "params",
    )

    def __init__(
        self,
        key: object,
        declaration: Declaration,
        kind: Kind,
        index: int,
        params: tuple[Param, ...],
    ) -> None:
        self.key = key
        self.declaration = declaration
        self.kind = kind
        self.index = index
        self.params = params
        self.is_singleton = declaration.scope == "singleton"
        self.is_async = kind.is_async

    @property
    def provider(self) -> Any:
        return self.declaration.provider

    def __repr__(self) -> str:
        return f"<Node {describe(self.key)} #{self.index}>"


class Arg:
    """How one argument is filled: from ``key``, or with ``value``.

    ``Graph.args`` has one per parameter that is passed: the key to inject,
    or ``None`` with the constant to pass (a default, or ``None`` for an
    unprovided ``T | None``). Parameters whose default applies are left out
    unless they are positional-only and followed by an injected one.
    """

    __slots__ = ("key", "name", "positional", "value")

    # Positional only, like Param, for speed.
    def __init__(
        self, name: str, key: object | None, value: Any, positional: bool, /
    ) -> None:
        self.name = name
        self.key = key
        self.value = value
        self.positional = positional

    def __repr__(self) -> str:
        source = describe(self.key) if self.key is not None else self.value
        return f"<Arg {self.name}={source}>"


class Graph:
    """A validated graph: who needs whom, and the order to start in.

    ``keyed`` holds, for each provider whose every argument is a key passed
    by position (the common case), those keys in order, so that it can be
    called without walking its `Arg` list.
    """

    __slots__ = ("args", "deps", "keyed", "nodes", "order")

    def __init__(
        self,
        nodes: Mapping[object, Node],
        args: Mapping[object, tuple[Arg, ...]],
        deps: Mapping[object, tuple[object, ...]],
        order: tuple[object, ...],
        keyed: Mapping[object, tuple[object, ...]],
    ) -> None:
        self.nodes = nodes
        self.args = args
        self.deps = deps
        self.order = order
        self.keyed = keyed

    def dependents_closure(self, key: object) -> set[object]:
        """``key`` and every key that depends on it, directly or not."""
        dependents: dict[object, list[object]] = {}
        for node_key, node_deps in self.deps.items():
            for dep in node_deps:
                dependents.setdefault(dep, []).append(node_key)
        seen = {key}
        todo = [key]
        while todo:
            for parent in dependents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen


def build_graph(
    nodes: Mapping[object, Node], requested: object | None = None
) -> Graph:
    """Wire, validate and sort ``nodes``.

    ``requested`` is the key whose use triggered validation; error paths
    start from it when they can.

    Raises:
        MissingDependencyError: A required parameter has no provider.
        CircularDependencyError: The graph has a cycle.
        ScopeError: A singleton depends on a transient.
    """
    args = _Args(nodes)
    deps: dict[object, tuple[object, ...]] = {}
    keyed: dict[object, tuple[object, ...]] = {}
    # Nodes with a parameter that is not a provided key: only these can
    # lack a required dependency.
    loose: list[Node] = []
    for key, node in nodes.items():
        keys = _keys_by_position(node, nodes)
        if keys is None:
            wired = args[key] = _wire(node, nodes)
            keys = tuple([arg.key for arg in wired if arg.key is not None])
            loose.append(node)
        else:
            keyed[key] = keys
        # A key asked for twice is one dependency.
        deps[key] = keys if len(keys) <= 1 else tuple(dict.fromkeys(keys))
    for node in loose:
        for param in node.params:
            if param.required and param.key not in nodes:
                path = path_to(node.key, nodes, deps, requested)
                raise MissingDependencyError(param.key, [*path, param.key])
    topo = [nodes[key] for key in _sort(nodes, deps)]
    for node in topo:
        if node.is_singleton:
            for dep in deps[node.key]:
                if not nodes[dep].is_singleton:
                    path = path_to(node.key, nodes, deps, requested)
                    raise ScopeError([*path, dep])
    order = tuple(
        [
            node.key
            for node in topo
            if node.is_singleton and node.declaration.managed
        ]
    )
    return Graph(nodes, args, deps, order, keyed)


def _keys_by_position(
    node: Node, nodes: Mapping[object, Node]
) -> tuple[object, ...] | None:
    """The keys to pass ``node`` if all go by position, else ``None``.

    That is when every parameter asks for a key that is provided and none
    is keyword-only: the common case, which needs no `Arg` list (see
    `_Args`).
    """
    keys = []
    for param in node.params:
        key = param.key
        if key is None or param.keyword_only or key not in nodes:
            return None
        keys.append(key)
    return tuple(keys)


class _Args(dict[object, tuple[Arg, ...]]):
    """``Graph.args``, wired on first use for the providers in ``keyed``.

    Most providers are called with their keys by position and never need
    an `Arg` list; the generated code for transients and `explain` do.
    """

    def __init__(self, nodes: Mapping[object, Node]) -> None:
        super().__init__()
        self._nodes = nodes

    def __missing__(self, key: object) -> tuple[Arg, ...]:
        # Racing threads wire the same node alike; either result may stay.
        wired = self[key] = _wire(self._nodes[key], self._nodes)
        return wired


def _wire(node: Node, nodes: Mapping[object, Node]) -> tuple[Arg, ...]:
    """The arguments to pass ``node``."""
    wired: list[Arg] = []
    # Skipped positional-only parameters, passed after all (with their
    # defaults) if a later parameter goes by position.
    held: list[Arg] = []
    # Once a parameter that could go by position is skipped, later ones
    # must go by name.
    gap = False
    for param in node.params:
        if param.key is not None and param.key in nodes:
            key, value = param.key, None
        elif param.default is EMPTY and param.optional:
            key, value = None, None
        elif param.positional_only:
            held.append(Arg(param.name, None, param.default, True))
            continue
        else:
            gap = True
            continue
        positional = param.positional_only or not (param.keyword_only or gap)
        if positional:
            wired.extend(held)
            held.clear()
        wired.append(Arg(param.name, key, value, positional))
    return tuple(wired)


def _sort(
    nodes: Mapping[object, Node], deps: Mapping[object, tuple[object, ...]]
) -> list[object]:
    """Kahn's algorithm, the earliest registered ready node first.

    When every node comes after its dependencies in registration order,
    that order is the result, and it is returned without the heap: the
    earliest node not yet placed always has all its dependencies placed.
    """
    if _registered_in_order(nodes, deps):
        return [
            node.key
            for node in sorted(nodes.values(), key=attrgetter("index"))
        ]

    import heapq  # noqa: PLC0415 - kept out of 'import mainspring'

    waiting = {key: len(node_deps) for key, node_deps in deps.items()}
    dependents: dict[object, list[object]] = {key: [] for key in nodes}
    for key, node_deps in deps.items():
        for dep in node_deps:
            dependents[dep].append(key)
    ready = [(nodes[k].index, k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    topo: list[object] = []
    while ready:
        _, key = heapq.heappop(ready)
        topo.append(key)
        for dependent in dependents[key]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, (nodes[dependent].index, dependent))
    if len(topo) < len(nodes):
        stuck = {k for k, n in waiting.items() if n > 0}
        raise CircularDependencyError(_find_cycle(stuck, nodes, deps))
    return topo


def _registered_in_order(
    nodes: Mapping[object, Node], deps: Mapping[object, tuple[object, ...]]
) -> bool:
    """Tell whether each node was registered after all its dependencies."""
    for key, node_deps in deps.items():
        index = nodes[key].index
        for dep in node_deps:
            if nodes[dep].index >= index:
                return False
    return True


def _find_cycle(
    stuck: set[object],
    nodes: Mapping[object, Node],
    deps: Mapping[object, tuple[object, ...]],
) -> list[object]:
    # Every stuck node waits on a stuck dependency, so following one from
    # any stuck node must come back to a node already walked.
    key = min(stuck, key=lambda k: nodes[k].index)
    walked: dict[object, int] = {}
    walk: list[object] = []
    while key not in walked:
        walked[key] = len(walk)
        walk.append(key)
        key = next(d for d in deps[key] if d in stuck)
    cycle = walk[walked[key] :]
    first = min(range(len(cycle)), key=lambda i: nodes[cycle[i]].index)
    cycle = cycle[first:] + cycle[:first]
    return [*cycle, cycle[0]]


def path_to(
    key: object,
    nodes: Mapping[object, Node],
    deps: Mapping[object, tuple[object, ...]],
    requested: object | None,
) -> list[object]:
    """A dependency path ending at ``key``, from ``requested`` if it can."""
    if requested is not None and requested in nodes:
        came_from: dict[object, object | None] = {requested: None}
        queue = deque([requested])
        while queue:
            current = queue.popleft()
            if current == key:
                return _unwind(came_from, key)
            for dep in deps[current]:
                if dep not in came_from:
                    came_from[dep] = current
                    queue.append(dep)
    dependents: dict[object, list[object]] = {}
    for node_key in sorted(nodes, key=lambda k: nodes[k].index):
        for dep in deps[node_key]:
            dependents.setdefault(dep, []).append(node_key)
    path = [key]
    seen = {key}
    while True:
        parents = [p for p in dependents.get(path[-1], ()) if p not in seen]
        if not parents:
            return path[::-1]
        path.append(parents[0])
        seen.add(parents[0])


def _unwind(
    came_from: Mapping[object, object | None], key: object
) -> list[object]:
    path: list[object] = []
    current: object | None = key
    while current is not None:
        path.append(current)
        current = came_from[current]
    return path[::-1]


def postorder(
    root: object,
    deps: Mapping[object, tuple[object, ...]],
    skip: Mapping[object, object] | set[object],
) -> list[object]:
    """``root`` and what it needs, not through ``skip``, deps first.

    Iterative, so a chain of any depth is fine. A root in ``skip`` needs
    nothing: the result is empty.
    """
    if root in skip:
        return []
    result: list[object] = []
    seen = {root}
    stack = [(root, iter(deps[root]))]
    while stack:
        key, children = stack[-1]
        for child in children:
            if child not in seen and child not in skip:
                seen.add(child)
                stack.append((child, iter(deps[child])))
                break
        else:
            stack.pop()
            result.append(key)
    return result
