"""dishka: providers compiled to code, resolved through an APP container.

Singletons are APP-scoped factories (cached); transients are APP-scoped
factories with ``cache=False``. The container keeps its default lock, the
thread safety that mainspring also gives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, async_pair_case, pair_case
from dishka import Provider, Scope, make_async_container, make_container
from scenarios import Spec


class Dishka(Adapter):
    name = "dishka"
    distribution = "dishka"
    module = "dishka"
    notes = {  # noqa: RUF012
        "lifecycle": (
            "dishka, wireup, diwire, dependency-injector, that-depends, svcs:"
            " generator factories, hooks called before and after `yield`;"
            " start is resolving every service, stop is closing the"
            " container, one service at a time"
        ),
    }

    def provider(self, spec: Spec) -> Provider:
        provider = Provider(scope=Scope.APP)
        for cls in spec.classes:
            provider.provide(cls, cache=spec.is_singleton(cls))
        return provider

    def singleton_get(self, spec: Spec) -> Case:
        container = make_container(self.provider(spec))
        container.get(spec.root)
        return pair_case(spec, functools.partial(container.get, spec.root))

    def transient(self, spec: Spec) -> Case:
        container = make_container(self.provider(spec))
        return pair_case(spec, functools.partial(container.get, spec.root))

    def async_transient(self, spec: Spec) -> Case:
        container = make_async_container(self.provider(spec))
        return async_pair_case(
            spec, functools.partial(container.get, spec.root)
        )

    def build(self, spec: Spec) -> Callable[[type], Any]:
        container = make_container(self.provider(spec))
        get = container.get
        for cls in spec.classes:
            get(cls)
        return get

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        provider = Provider(scope=Scope.APP)
        for cls in spec.classes:
            provider.provide(spec.factories[cls], provides=cls)
        classes = spec.classes
        if spec.hooks == "async":
            container = make_async_container(provider)

            async def start_and_stop() -> None:
                for cls in classes:
                    await container.get(cls)
                await container.close()

            return start_and_stop
        container = make_container(provider)

        def start_and_stop_sync() -> None:
            for cls in classes:
                container.get(cls)
            container.close()

        return start_and_stop_sync


ADAPTER = Dishka()
