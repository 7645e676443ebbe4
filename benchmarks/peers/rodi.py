"""rodi: ``build_provider()`` compiles activators; ``Services.get``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, pair_case
from rodi import Container
from scenarios import Spec


class Rodi(Adapter):
    name = "rodi"
    distribution = "rodi"
    module = "rodi"

    def services(self, spec: Spec) -> Any:
        container = Container()
        for cls in spec.classes:
            if spec.is_singleton(cls):
                container.add_singleton(cls)
            else:
                container.add_transient(cls)
        return container.build_provider()

    def singleton_get(self, spec: Spec) -> Case:
        services = self.services(spec)
        services.get(spec.root)
        return pair_case(spec, functools.partial(services.get, spec.root))

    def transient(self, spec: Spec) -> Case:
        services = self.services(spec)
        return pair_case(spec, functools.partial(services.get, spec.root))

    def build(self, spec: Spec) -> Callable[[type], Any]:
        get = self.services(spec).get
        for cls in spec.classes:
            get(cls)
        return get


ADAPTER = Rodi()
