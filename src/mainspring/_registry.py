"""The ``@service`` decorator and the registries it fills."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload

from mainspring._keys import describe, is_key, unwrap
from mainspring._lazy import log

if TYPE_CHECKING:
    import weakref

__all__ = ["Registry", "default_registry", "service"]

Scope = Literal["singleton", "transient"]
SCOPES: Final = ("singleton", "transient")

_P = TypeVar("_P")


class _Inherit:
    """The container's value applies (a timeout left out)."""

    def __repr__(self) -> str:
        return "INHERIT"


INHERIT: Final = _Inherit()
Timeout = float | None | _Inherit


class Declaration:
    """How one provider was declared: the object and its options.

    Never changed once made. Equal to another declaration with the same
    provider and options: registering one class twice alike is not a
    duplicate.

    Raises:
        ValueError: For an unknown scope or a timeout that is not a
            positive number.
        TypeError: When ``provides`` is not a type.
    """

    # In the constructor's order, which equality and repr() follow.
    _FIELDS = (
        "provider",
        "provides",
        "scope",
        "start_timeout",
        "stop_timeout",
        "instance",
        "managed",
    )
    __slots__ = _FIELDS

    provider: Any
    provides: object | None
    scope: Scope
    start_timeout: Timeout
    stop_timeout: Timeout
    instance: bool
    # False only for the container itself, which has no lifecycle hooks to
    # run as a service.
    managed: bool

    def __init__(
        self,
        provider: Any,
        provides: object | None = None,
        scope: Scope = "singleton",
        start_timeout: Timeout = INHERIT,
        stop_timeout: Timeout = INHERIT,
        *,
        instance: bool = False,
        managed: bool = True,
    ) -> None:
        if scope not in SCOPES:
            message = (
                f"scope of {describe(provider)} must be 'singleton' or "
                f"'transient', not {scope!r}"
            )
            raise ValueError(message)
        if provides is not None and not is_key(unwrap(provides)):
            message = (
                f"provides={provides!r} for {describe(provider)} is not a type"
            )
            raise TypeError(message)
        if start_timeout is not INHERIT:
            _check_timeout(provider, "start_timeout", start_timeout)
        if stop_timeout is not INHERIT:
            _check_timeout(provider, "stop_timeout", stop_timeout)
        self.provider = provider
        self.provides = provides
        self.scope = scope
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.instance = instance
        self.managed = managed

    def with_provider(self, provider: Any) -> Declaration:
        """The same options for another provider object."""
        copy = object.__new__(Declaration)
        copy.provider = provider
        copy.provides = self.provides
        copy.scope = self.scope
        copy.start_timeout = self.start_timeout
        copy.stop_timeout = self.stop_timeout
        copy.instance = self.instance
        copy.managed = self.managed
        return copy

    def is_default(self) -> bool:
        """Tell whether every option is left at its default."""
        return (
            self.provides is None
            and self.scope == "singleton"
            and self.start_timeout is INHERIT
            and self.stop_timeout is INHERIT
            and not self.instance
            and self.managed
        )

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in Declaration._FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Declaration):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        options = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in Declaration._FIELDS[1:]
        )
        return f"Declaration({describe(self.provider)}, {options})"


def _check_timeout(provider: object, name: str, value: object) -> None:
    if value is INHERIT or value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value > 0
    ):
        message = (
            f"{name} of {describe(provider)} must be a positive number of "
            f"seconds or None, not {value!r}"
        )
        raise ValueError(message)


class _Remembered:
    """What ``@service(...)`` said about each object, held weakly.

    So that ``Container(SomeClass)`` uses the options the decorator gave,
    whichever registry it filled. Only options that differ from the
    defaults are kept, and the weak map (with the ``weakref`` module) is
    made on the first of those.
    """

    def __init__(self) -> None:
        self._options: weakref.WeakKeyDictionary[Any, Declaration] | None = (
            None
        )

    def get(self, provider: Any) -> Declaration | None:
        try:
            return None if self._options is None else self._options[provider]
        except (KeyError, TypeError):  # TypeError: not weakly referable
            return None

    def remember(self, declaration: Declaration) -> None:
        provider = declaration.provider
        options = self._options
        if declaration.is_default():
            if options is not None:
                with suppress(TypeError):  # not weakly referable: never in
                    options.pop(provider, None)  # the map to begin with
            return
        if options is None:
            import weakref  # noqa: PLC0415 - see the class docstring

            options = self._options = weakref.WeakKeyDictionary()
        # Kept without the object itself: a value that refers to its weak
        # key would keep the key alive forever.
        with suppress(TypeError):  # not weakly referable: known to its
            options[provider] = declaration.with_provider(None)  # registry


_declared = _Remembered()


def declaration_of(provider: Any) -> Declaration:
    """The options ``provider`` was decorated with, or the defaults."""
    options = _declared.get(provider)
    if options is None:
        return Declaration(provider)
    return options.with_provider(provider)


class Registry:
    """An ordered collection of service providers.

    ``Registry().service`` is a decorator like `mainspring.service`, which
    fills `default_registry`. A `Container` built from a registry takes the
    providers in the order they were declared, and that order breaks ties in
    the start order.
    """

    def __init__(self) -> None:
        self._declarations: list[Declaration] = []

    def __repr__(self) -> str:
        return f"<Registry: {len(self._declarations)} providers>"

    def __len__(self) -> int:
        return len(self._declarations)

    def __iter__(self) -> Iterator[Declaration]:
        return iter(list(self._declarations))

    @overload
    def service(self, provider: _P, /) -> _P: ...

    @overload
    def service(
        self,
        provider: None = None,
        /,
        *,
        provides: object | None = None,
        scope: Scope = "singleton",
        start_timeout: float | _Inherit | None = INHERIT,
        stop_timeout: float | _Inherit | None = INHERIT,
    ) -> Callable[[_P], _P]: ...

    def service(
        self,
        provider: Any = None,
        /,
        *,
        provides: object | None = None,
        scope: Scope = "singleton",
        start_timeout: float | _Inherit | None = INHERIT,
        stop_timeout: float | _Inherit | None = INHERIT,
    ) -> Any:
        """Declare a class or factory function as a service provider.

        Use it bare (``@service``) or with options (``@service(...)``). The
        decorated object is returned unchanged.

        Args:
            provider: The class or factory, when used bare.
            provides: The key to register under, such as an abstract class
                or Protocol the class implements. Defaults to the class
                itself, or to a factory's return annotation.
            scope: ``"singleton"`` (one instance per container) or
                ``"transient"`` (a new instance on every resolution).
            start_timeout: Seconds this service's ``start()`` may take;
                ``None`` for no limit. Left out, the container's applies.
            stop_timeout: Seconds its stop steps may take together.

        Returns:
            The decorated object, or a decorator when called with options.

        Raises:
            ValueError: For an unknown scope or a timeout that is not a
                positive number.
            TypeError: When ``provides`` is not a type.
        """

        def decorate(obj: _P) -> _P:
            declaration = Declaration(
                obj, provides, scope, start_timeout, stop_timeout
            )
            self._declarations.append(declaration)
            _declared.remember(declaration)
            if log.is_debug():
                log.debug("declared %s", describe(obj))
            return obj

        if provider is None:
            return decorate
        return decorate(provider)


default_registry: Final = Registry()
"""The registry that the bare `service` decorator fills."""

service: Final = default_registry.service
