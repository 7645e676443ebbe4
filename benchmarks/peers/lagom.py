"""lagom: singletons declared, everything else reflected and cached."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, pair_case
from lagom import Container, Singleton
from scenarios import Spec


class Lagom(Adapter):
    name = "lagom"
    distribution = "lagom"
    module = "lagom"
    notes = {  # noqa: RUF012
        "build": (
            "lagom, injector, punq, svcs, dependency-injector, that-depends"
            " have no separate validation step; their resolution is the"
            " check"
        ),
    }

    def container(self, spec: Spec) -> Container:
        container = Container()
        for cls in spec.classes:
            if spec.is_singleton(cls):
                container[cls] = Singleton(cls)
        return container

    def singleton_get(self, spec: Spec) -> Case:
        container = self.container(spec)
        container.resolve(spec.root)
        return pair_case(spec, functools.partial(container.resolve, spec.root))

    def transient(self, spec: Spec) -> Case:
        container = self.container(spec)
        return pair_case(spec, functools.partial(container.resolve, spec.root))

    def build(self, spec: Spec) -> Callable[[type], Any]:
        resolve = self.container(spec).resolve
        for cls in spec.classes:
            resolve(cls)
        return resolve


ADAPTER = Lagom()
