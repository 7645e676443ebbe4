"""mainspring, driven through its public API only."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, async_pair_case, pair_case
from scenarios import Spec

import mainspring
from mainspring import Container, Registry


class Mainspring(Adapter):
    name = "mainspring"
    distribution = "mainspring"
    module = "mainspring"
    notes = {  # noqa: RUF012
        "lifecycle": (
            "mainspring: `astart()`/`astop()` for async hooks, `start()`/"
            "`stop()` (private loop thread) for sync hooks, which run in "
            "worker threads; both include building the services"
        ),
    }

    def container(self, spec: Spec) -> Container:
        registry = Registry()
        for cls in spec.classes:
            scope = "singleton" if spec.is_singleton(cls) else "transient"
            registry.service(scope=scope)(cls)
        return Container(registry)

    def singleton_get(self, spec: Spec) -> Case:
        container = self.container(spec)
        container.get(spec.root)
        return pair_case(spec, functools.partial(container.get, spec.root))

    def transient(self, spec: Spec) -> Case:
        container = self.container(spec)
        return pair_case(spec, functools.partial(container.get, spec.root))

    def async_transient(self, spec: Spec) -> Case:
        container = self.container(spec)
        return async_pair_case(
            spec, functools.partial(container.aget, spec.root)
        )

    def build(self, spec: Spec) -> Callable[[type], Any]:
        registry = Registry()
        for cls in spec.classes:
            registry.service(cls)
        container = Container(registry)
        container.order  # noqa: B018 - validates the whole graph
        get = container.get
        for cls in spec.classes:
            get(cls)
        return get

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        container = self.container(spec)
        container.order  # noqa: B018 - validated before the clock starts
        if spec.hooks == "async":

            async def start_and_stop() -> None:
                await container.astart()
                await container.astop()

            return start_and_stop

        def start_and_stop_sync() -> None:
            container.start()
            container.stop()

        return start_and_stop_sync


ADAPTER = Mainspring()
VERSION = mainspring.__version__
