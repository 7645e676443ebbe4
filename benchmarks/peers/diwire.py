"""diwire: its documented strict mode, compiled, entry points rebound.

Strict mode (no autoregistration) with ``use_resolver_context=False`` lets
``compile()`` rebind ``resolve`` to the generated resolver. Root-scoped
``SCOPED`` registrations are its singletons; the default lock mode keeps
them thread safe, as mainspring's are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, async_pair_case, pair_case
from diwire import (
    Container,
    DependencyRegistrationPolicy,
    Lifetime,
    MissingPolicy,
)
from scenarios import Spec


def _container() -> Container:
    return Container(
        missing_policy=MissingPolicy.ERROR,
        dependency_registration_policy=DependencyRegistrationPolicy.IGNORE,
        use_resolver_context=False,
    )


class Diwire(Adapter):
    name = "diwire"
    distribution = "diwire"
    module = "diwire"

    def container(self, spec: Spec) -> Container:
        container = _container()
        for cls in spec.classes:
            lifetime = (
                Lifetime.SCOPED
                if spec.is_singleton(cls)
                else Lifetime.TRANSIENT
            )
            container.add(cls, lifetime=lifetime)
        container.compile()
        return container

    def singleton_get(self, spec: Spec) -> Case:
        # Read after compile(): the rebound, generated entry point.
        resolve = self.container(spec).resolve
        resolve(spec.root)
        return pair_case(spec, functools.partial(resolve, spec.root))

    def transient(self, spec: Spec) -> Case:
        resolve = self.container(spec).resolve
        return pair_case(spec, functools.partial(resolve, spec.root))

    def async_transient(self, spec: Spec) -> Case:
        aresolve = self.container(spec).aresolve
        return async_pair_case(spec, functools.partial(aresolve, spec.root))

    def build(self, spec: Spec) -> Callable[[type], Any]:
        resolve = self.container(spec).resolve
        for cls in spec.classes:
            resolve(cls)
        return resolve

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        container = _container()
        for cls in spec.classes:
            container.add_generator(
                spec.factories[cls], provides=cls, lifetime=Lifetime.SCOPED
            )
        container.compile()
        classes = spec.classes
        if spec.hooks == "async":
            aresolve = container.aresolve

            async def start_and_stop() -> None:
                for cls in classes:
                    await aresolve(cls)
                await container.aclose()

            return start_and_stop
        resolve = container.resolve

        def start_and_stop_sync() -> None:
            for cls in classes:
                resolve(cls)
            container.close()

        return start_and_stop_sync


ADAPTER = Diwire()
