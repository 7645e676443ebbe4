"""that-depends: explicit providers, ``resolve_sync`` and ``resolve``.

Like dependency-injector it does not read type hints: each provider gets
the providers of its arguments. Lifecycles are ``Resource`` providers in a
container class, started by resolving each and stopped by ``tear_down``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, async_pair_case, pair_case
from scenarios import Spec
from that_depends import BaseContainer, providers


class ThatDepends(Adapter):
    name = "that-depends"
    distribution = "that-depends"
    module = "that_depends"
    reads_hints = False

    def providers(self, spec: Spec) -> dict[type, Any]:
        made: dict[type, Any] = {}
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
        provider.resolve_sync()
        return pair_case(spec, provider.resolve_sync)

    def transient(self, spec: Spec) -> Case:
        return pair_case(spec, self.providers(spec)[spec.root].resolve_sync)

    def async_transient(self, spec: Spec) -> Case:
        return async_pair_case(spec, self.providers(spec)[spec.root].resolve)

    def build(self, spec: Spec) -> Callable[[type], Any]:
        made = self.providers(spec)
        for provider in made.values():
            provider.resolve_sync()
        return lambda cls: made[cls].resolve_sync()

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        made: dict[type, Any] = {}
        for cls in spec.classes:
            made[cls] = providers.Resource(
                spec.factories[cls], *[made[dep] for dep in spec.deps[cls]]
            )
        with warnings.catch_warnings():
            # Container classes are kept in a global dict by name; reusing
            # the name lets the previous one (and its resources) go.
            warnings.simplefilter("ignore", UserWarning)
            container: Any = type(
                "LifecycleContainer",
                (BaseContainer,),
                {cls.__name__: made[cls] for cls in spec.classes},
            )
        resources = list(made.values())
        if spec.hooks == "async":

            async def start_and_stop() -> None:
                for resource in resources:
                    await resource.resolve()
                await container.tear_down()

            return start_and_stop

        def start_and_stop_sync() -> None:
            for resource in resources:
                resource.resolve_sync()
            container.tear_down_sync()

        return start_and_stop_sync


ADAPTER = ThatDepends()
