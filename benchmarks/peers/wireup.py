"""wireup: injectables compiled into factories, fetched with ``get``.

wireup resolves transients only inside a scope, so the transient cases
enter one scope up front and call its ``get``.

``get`` is what this comparison measures; wireup's own benchmarks prefer
injecting into functions with ``inject_from_container``, which this
scenario list does not exercise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, async_pair_case, pair_case
from scenarios import Spec
from wireup import create_async_container, create_sync_container, injectable


class Wireup(Adapter):
    name = "wireup"
    distribution = "wireup"
    module = "wireup"

    def injectables(self, spec: Spec) -> list[type]:
        for cls in spec.classes:
            lifetime = "singleton" if spec.is_singleton(cls) else "transient"
            injectable(cls, lifetime=lifetime)
        return spec.classes

    def singleton_get(self, spec: Spec) -> Case:
        container = create_sync_container(injectables=self.injectables(spec))
        container.get(spec.root)
        return pair_case(spec, functools.partial(container.get, spec.root))

    def transient(self, spec: Spec) -> Case:
        container = create_sync_container(injectables=self.injectables(spec))
        # Transients are resolved in a scope; one scope serves every call.
        scope = container.enter_scope()
        return pair_case(spec, functools.partial(scope.get, spec.root))

    def async_transient(self, spec: Spec) -> Case:
        container = create_async_container(injectables=self.injectables(spec))
        scope = container.enter_scope()
        return async_pair_case(spec, functools.partial(scope.get, spec.root))

    def build(self, spec: Spec) -> Callable[[type], Any]:
        container = create_sync_container(injectables=self.injectables(spec))
        get = container.get
        for cls in spec.classes:
            get(cls)
        return get

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        factories = [injectable(spec.factories[c]) for c in spec.classes]
        classes = spec.classes
        if spec.hooks == "async":
            container = create_async_container(injectables=factories)

            async def start_and_stop() -> None:
                for cls in classes:
                    await container.get(cls)
                await container.close()

            return start_and_stop
        sync_container = create_sync_container(injectables=factories)

        def start_and_stop_sync() -> None:
            for cls in classes:
                sync_container.get(cls)
            sync_container.close()

        return start_and_stop_sync


ADAPTER = Wireup()
