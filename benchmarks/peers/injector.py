"""injector: ``@inject`` constructors, singletons bound in ``singleton``.

Transients are left unbound: injector's auto-binding builds a new one per
``get``, which is its documented default scope.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adapter import Adapter, Case, pair_case
from injector import Binder, Injector, inject, singleton
from scenarios import Spec


class InjectorAdapter(Adapter):
    name = "injector"
    distribution = "injector"
    module = "injector"

    def injector(self, spec: Spec) -> Injector:
        for cls in spec.classes:
            inject(cls)
        singletons = [c for c in spec.classes if spec.is_singleton(c)]

        def configure(binder: Binder) -> None:
            for cls in singletons:
                binder.bind(cls, scope=singleton)

        return Injector([configure])

    def singleton_get(self, spec: Spec) -> Case:
        injector = self.injector(spec)
        injector.get(spec.root)
        return pair_case(spec, functools.partial(injector.get, spec.root))

    def transient(self, spec: Spec) -> Case:
        injector = self.injector(spec)
        return pair_case(spec, functools.partial(injector.get, spec.root))

    def build(self, spec: Spec) -> Callable[[type], Any]:
        get = self.injector(spec).get
        for cls in spec.classes:
            get(cls)
        return get


ADAPTER = InjectorAdapter()
