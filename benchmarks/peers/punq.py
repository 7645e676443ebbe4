"""punq: classes registered with their scope, ``resolve`` by type.

punq's transients are new per ``resolve`` call but shared within one: in
the transient graph, B and C would get the same D, and a check that two D
are built fails. That is less work than the scenario asks for, so punq is
left out of the transient rows rather than timed on a smaller graph.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, Unsupported, pair_case
from punq import Container, Scope
from scenarios import Spec


class Punq(Adapter):
    name = "punq"
    distribution = "punq"
    module = "punq"

    def container(self, spec: Spec) -> Container:
        container = Container()
        for cls in spec.classes:
            scope = (
                Scope.singleton if spec.is_singleton(cls) else Scope.transient
            )
            container.register(cls, scope=scope)
        return container

    def singleton_get(self, spec: Spec) -> Case:
        container = self.container(spec)
        container.resolve(spec.root)
        return pair_case(spec, functools.partial(container.resolve, spec.root))

    def transient(self, spec: Spec) -> Case:
        message = (
            "punq shares a transient within one resolve call (B and C get the"
            " same D), so it builds fewer objects than the scenario asks"
        )
        raise Unsupported(message)

    def build(self, spec: Spec) -> Callable[[type], Any]:
        resolve = self.container(spec).resolve
        for cls in spec.classes:
            resolve(cls)
        return resolve


ADAPTER = Punq()
