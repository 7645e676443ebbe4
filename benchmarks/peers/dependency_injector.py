"""dependency-injector: explicit providers, called directly (Cython core).

It does not read type hints: each provider is given the providers of its
constructor's arguments, which is its documented way. Calling a provider
is its equivalent of ``get``. Async resolution uses the providers' async
mode; lifecycles are ``Resource`` providers with generator factories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, async_pair_case, pair_case
from dependency_injector import containers, providers
from scenarios import Spec


class DependencyInjector(Adapter):
    name = "dependency-injector"
    distribution = "dependency-injector"
    module = "dependency_injector.providers"
    reads_hints = False
    notes = {  # noqa: RUF012
        "*": (
            "dependency-injector and that-depends do not read type hints:"
            " their providers are wired by hand from the same graph"
        ),
    }

    def providers(self, spec: Spec) -> dict[type, providers.Provider[Any]]:
        made: dict[type, providers.Provider[Any]] = {}
        for cls in spec.classes:
            kind = (
                providers.Singleton
                if spec.is_singleton(cls)
                else providers.Factory
            )
            made[cls] = kind(cls, *[made[dep] for dep in spec.deps[cls]])
        return made

    def singleton_get(self, spec: Spec) -> Case:
        provider = self.providers(spec)[spec.root]
        provider()
        return pair_case(spec, provider)

    def transient(self, spec: Spec) -> Case:
        return pair_case(spec, self.providers(spec)[spec.root])

    def async_transient(self, spec: Spec) -> Case:
        made = self.providers(spec)
        for provider in made.values():
            provider.enable_async_mode()
        return async_pair_case(spec, made[spec.root])

    def build(self, spec: Spec) -> Callable[[type], Any]:
        made = self.providers(spec)
        for provider in made.values():
            provider()
        return lambda cls: made[cls]()

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        container = containers.DynamicContainer()
        made: dict[type, providers.Provider[Any]] = {}
        for cls in spec.classes:
            made[cls] = providers.Resource(
                spec.factories[cls], *[made[dep] for dep in spec.deps[cls]]
            )
        container.set_providers(
            **{cls.__name__: made[cls] for cls in spec.classes}
        )
        if spec.hooks == "async":

            async def start_and_stop() -> None:
                await container.init_resources()
                await container.shutdown_resources()

            return start_and_stop

        def start_and_stop_sync() -> None:
            container.init_resources()
            container.shutdown_resources()

        return start_and_stop_sync


ADAPTER = DependencyInjector()
