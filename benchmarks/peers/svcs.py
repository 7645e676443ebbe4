"""svcs: autowired factories in a registry, fetched from a container.

svcs caches every service for the life of its container, so it has
singletons (one long-lived container) but no transients. Lifecycles are
generator factories wrapped as context managers, which svcs enters on
``get`` and exits on ``close``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import svcs
from adapter import Adapter, Case, Unsupported, pair_case
from scenarios import Spec


class Svcs(Adapter):
    name = "svcs"
    distribution = "svcs"
    module = "svcs"

    def container(self, spec: Spec) -> svcs.Container:
        registry = svcs.Registry()
        for cls in spec.classes:
            registry.register_factory(cls, svcs.autowire(cls))
        return svcs.Container(registry)

    def singleton_get(self, spec: Spec) -> Case:
        container = self.container(spec)
        container.get(spec.root)
        return pair_case(spec, functools.partial(container.get, spec.root))

    def transient(self, spec: Spec) -> Case:
        message = (
            "svcs caches every service for the life of its container; it has"
            " no transient lifetime"
        )
        raise Unsupported(message)

    def async_transient(self, spec: Spec) -> Case:
        return self.transient(spec)

    def build(self, spec: Spec) -> Callable[[type], Any]:
        get = self.container(spec).get
        for cls in spec.classes:
            get(cls)
        return get

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        registry = svcs.Registry()
        is_async = spec.hooks == "async"
        for cls in spec.classes:
            factory = spec.factories[cls]
            if is_async:
                registry.register_factory(
                    cls,
                    svcs.aautowire(contextlib.asynccontextmanager(factory)),
                )
            else:
                registry.register_factory(
                    cls, svcs.autowire(contextlib.contextmanager(factory))
                )
        container = svcs.Container(registry)
        classes = spec.classes
        if is_async:

            async def start_and_stop() -> None:
                for cls in classes:
                    await container.aget(cls)
                await container.aclose()

            return start_and_stop

        def start_and_stop_sync() -> None:
            for cls in classes:
                container.get(cls)
            container.close()

        return start_and_stop_sync


ADAPTER = Svcs()
