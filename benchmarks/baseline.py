"""The floor: the same objects built by plain Python, with no container.

A singleton is a dict lookup; a transient graph is the nested constructor
call a programmer would type, compiled from the spec; building a graph is
one loop in dependency order; a lifecycle is a loop that calls every
``start`` in order and then every ``stop`` in reverse.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, async_pair_case, pair_case
from scenarios import Spec, expression


class Baseline(Adapter):
    name = "baseline"
    distribution = ""
    module = "inspect, typing"

    def singleton_get(self, spec: Spec) -> Case:
        assert spec.root is not None
        built = self.build(spec)
        registry = {cls: built(cls) for cls in spec.classes}
        return pair_case(
            spec, functools.partial(registry.__getitem__, spec.root)
        )

    def transient(self, spec: Spec) -> Case:
        return pair_case(spec, _maker(spec, is_async=False))

    def async_transient(self, spec: Spec) -> Case:
        return async_pair_case(spec, _maker(spec, is_async=True))

    def build(self, spec: Spec) -> Callable[[type], Any]:
        built: dict[type, Any] = {}
        for cls in spec.classes:
            if spec.is_singleton(cls):
                built[cls] = cls(*[built[dep] for dep in spec.deps[cls]])
        return built.__getitem__

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        classes, deps = spec.classes, spec.deps

        def build() -> list[Any]:
            built: dict[type, Any] = {}
            for cls in classes:
                built[cls] = cls(*[built[dep] for dep in deps[cls]])
            return list(built.values())

        if spec.hooks == "async":

            async def start_and_stop() -> None:
                services = build()
                for service in services:
                    await service.start()
                for service in reversed(services):
                    await service.stop()

            return start_and_stop

        def start_and_stop_sync() -> None:
            services = build()
            for service in services:
                service.start()
            for service in reversed(services):
                service.stop()

        return start_and_stop_sync


def _maker(spec: Spec, *, is_async: bool) -> Callable[[], Any]:
    """Compile the hand-written expression that builds the root.

    Singletons are module globals, built beforehand, as a program that
    wires itself by hand would hold them.
    """
    assert spec.root is not None
    names = {cls: cls.__name__ for cls in spec.classes}
    namespace: dict[str, Any] = {name: cls for cls, name in names.items()}
    for cls, instance in _singletons(spec).items():
        namespace[f"the_{names[cls]}"] = instance
    prefix = "async " if is_async else ""
    body = expression(spec, spec.root, names)
    source = f"{prefix}def make():\n    return {body}\n"
    exec(compile(source, "<baseline>", "exec"), namespace)  # noqa: S102
    return namespace["make"]  # type: ignore[no-any-return]


def _singletons(spec: Spec) -> dict[type, Any]:
    built: dict[type, Any] = {}
    for cls in spec.classes:
        if spec.is_singleton(cls):
            built[cls] = cls(*[built[dep] for dep in spec.deps[cls]])
    return built


ADAPTER = Baseline()
