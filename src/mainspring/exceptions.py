"""Every error mainspring raises, each carrying its facts as attributes.

The hierarchy::

    MainspringError
    ├── MissingDependencyError        a required parameter has no provider
    ├── CircularDependencyError       the graph has a cycle
    ├── DuplicateServiceError         two providers for one key
    ├── UnknownServiceError           get() of a key nobody provides
    │                                 (also a LookupError)
    ├── InvalidProviderError          a provider that cannot be used as given
    │                                 (also a TypeError)
    ├── ScopeError                    a singleton depends on a transient
    ├── StateError                    the container's state forbids the call
    │                                 (also a RuntimeError)
    ├── StartupError                  building or starting failed
    ├── ShutdownError                 stops, teardowns or run() bodies failed
    │                                 (also an ExceptionGroup)
    ├── ServiceFailedError            a service's run() body raised
    └── NotRunningError               in statuses(): the service is not running

Messages name types by their qualified names and show dependency paths with
`` -> `` between the steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from mainspring._keys import describe, describe_path

__all__ = [
    "CircularDependencyError",
    "DuplicateServiceError",
    "InvalidProviderError",
    "MainspringError",
    "MissingDependencyError",
    "NotRunningError",
    "ScopeError",
    "ServiceFailedError",
    "ShutdownError",
    "StartupError",
    "StateError",
    "UnknownServiceError",
]


class MainspringError(Exception):
    """The base class of every error mainspring raises."""


class MissingDependencyError(MainspringError):
    """A required parameter's type has no provider.

    Attributes:
        key: The type nobody provides.
        path: The keys from a requesting service down to ``key``.
    """

    def __init__(self, key: object, path: Sequence[object]) -> None:
        self.key = key
        self.path = list(path)
        super().__init__(
            f"no provider for {describe(key)} "
            f"(needed by {describe_path(self.path)})"
        )


class CircularDependencyError(MainspringError):
    """The dependency graph has a cycle.

    Attributes:
        cycle: The keys of the cycle, the first repeated at the end.
    """

    def __init__(self, cycle: Sequence[object], detail: str = "") -> None:
        self.cycle = list(cycle)
        message = f"circular dependency: {describe_path(self.cycle)}"
        super().__init__(f"{message}; {detail}" if detail else message)


class DuplicateServiceError(MainspringError):
    """Two providers were registered for one key.

    Attributes:
        key: The key provided twice.
        providers: The two conflicting providers, first registered first.
    """

    def __init__(self, key: object, providers: Sequence[object]) -> None:
        self.key = key
        self.providers = list(providers)
        names = " and by ".join(describe(p) for p in self.providers)
        super().__init__(
            f"{describe(key)} is provided twice: by {names}; "
            "replace a provider with overrides= or container.override()"
        )


class UnknownServiceError(MainspringError, LookupError):
    """A key was asked for that no provider makes.

    Attributes:
        key: The key asked for.
        suggestions: Registered keys whose names are close, best first.
        action: What could not be done, such as ``"override Database"``,
            shown before the message; ``""`` for a lookup.
    """

    def __init__(
        self, key: object, suggestions: Sequence[object], action: str = ""
    ) -> None:
        self.key = key
        self.suggestions = list(suggestions)
        self.action = action
        names = [describe(s) for s in self.suggestions]
        shown = describe(key)
        if shown in names:
            # Same short name, different type: only the module tells apart.
            shown = describe(key, qualified=True)
            names = [describe(s, qualified=True) for s in self.suggestions]
        message = f"no service {shown} is registered"
        if action:
            message = f"cannot {action}: {message}"
        if names:
            message += f"; closest: {', '.join(names)}"
        super().__init__(message)

    def __str__(self) -> str:
        # LookupError would quote the message like a dict key; keep it plain.
        return str(self.args[0])


class InvalidProviderError(MainspringError, TypeError):
    """A provider cannot be used as it is declared.

    Raised for a parameter with neither annotation nor default, a factory
    without a return annotation, an annotation that is not a type or that
    names nothing, and a provider that is not a class or a function.

    Attributes:
        provider: The offending class, function or object.
        reason: What is wrong with it, without the path or the hint.
        hint: How to fix it, or ``""``.
        path: The keys from the requested service down to the provider's
            key, when another service needs it; otherwise empty.
    """

    def __init__(
        self,
        provider: object,
        reason: str,
        hint: str = "",
        path: Sequence[object] = (),
    ) -> None:
        self.provider = provider
        self.reason = reason
        self.hint = hint
        self.path = list(path)
        message = reason
        if len(self.path) > 1:
            message += f" (needed by {describe_path(self.path)})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class ScopeError(MainspringError):
    """A singleton depends on a transient.

    Attributes:
        path: The keys from a root service down to the transient.
    """

    def __init__(self, path: Sequence[object]) -> None:
        self.path = list(path)
        singleton, transient = self.path[-2], self.path[-1]
        super().__init__(
            f"singleton {describe(singleton)} depends on transient "
            f"{describe(transient)} ({describe_path(self.path)}); a singleton "
            "would keep one transient instance forever"
        )


class StateError(MainspringError, RuntimeError):
    """The container's state forbids the operation."""


class StartupError(MainspringError):
    """Building or starting the services failed; the started ones were stopped.

    Attributes:
        service: The key whose build or start failed, or ``None`` when a
            signal interrupted the start.
        rollback_errors: Failures met while stopping the services that had
            started, also attached to the error as notes.
    """

    def __init__(
        self,
        message: str,
        service: object | None,
        rollback_errors: Sequence[BaseException] = (),
    ) -> None:
        self.service = service
        self.rollback_errors = list(rollback_errors)
        super().__init__(message)
        for error in self.rollback_errors:
            self.add_note(f"during rollback: {_one_line(error)}")


class ShutdownError(MainspringError, ExceptionGroup[Exception]):
    """One or more stops, teardowns or ``run()`` bodies failed.

    Every stop was still attempted. Each member is the original exception
    with a note naming its service, and ``services`` lists the service of
    each member in the same order.
    """

    services: list[object]

    def __new__(
        cls,
        message: str,
        exceptions: Sequence[Exception],
        services: Sequence[object] = (),
    ) -> Self:
        """Make the group; ``services`` is kept beside the members."""
        self = super().__new__(cls, message, exceptions)
        self.services = list(services)
        return self

    def __init__(
        self,
        message: str,
        exceptions: Sequence[Exception],
        services: Sequence[object] = (),  # noqa: ARG002 - used by __new__
    ) -> None:
        super().__init__(message, exceptions)

    def derive(self, excs: Sequence[Exception]) -> ShutdownError:  # type: ignore[override]
        """Keep the class and the services when the group is split."""
        by_identity = {
            id(e): s
            for e, s in zip(self.exceptions, self.services, strict=True)
        }
        return ShutdownError(
            self.message, excs, [by_identity.get(id(e)) for e in excs]
        )


class ServiceFailedError(MainspringError):
    """A service's ``run()`` body raised; the cause is chained.

    Attributes:
        service: The key whose body failed.
    """

    def __init__(self, service: object, error: BaseException) -> None:
        self.service = service
        super().__init__(
            f"{describe(service)}.run() failed: {_one_line(error)}"
        )


class NotRunningError(MainspringError):
    """The service is not running (a value in ``statuses()``).

    Attributes:
        service: The key that is not running.
    """

    def __init__(self, service: object, reason: str = "") -> None:
        self.service = service
        message = f"{describe(service)} is not running"
        super().__init__(f"{message} ({reason})" if reason else message)


def _one_line(error: BaseException) -> str:
    text = str(error)
    name = type(error).__name__
    return f"{name}: {text}" if text else name
