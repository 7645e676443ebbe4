"""What may be asked for (a key) and how keys are named in messages."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Annotated, Any, get_args, get_origin


def is_key(value: object) -> bool:
    """Tell whether ``value`` can name a service.

    Classes (abstract ones and Protocols included), parametrised generics of
    a class such as ``Repository[User]`` and ``NewType`` names are keys.
    """
    if isinstance(value, type):
        return value is not Any
    if isinstance(value, typing.NewType):
        return True
    origin = get_origin(value)
    return isinstance(origin, type) and origin not in _NOT_KEYS


_NOT_KEYS = frozenset({types.UnionType, Annotated, typing.Union})
_UNIONS = (types.UnionType, typing.Union)


def unwrap(value: object) -> object:
    """Strip ``Annotated[T, ...]`` down to ``T``."""
    while get_origin(value) is Annotated:
        value = get_args(value)[0]
    return value


def check_key(value: object) -> object:
    """Return ``value`` as a key, or raise `TypeError` saying why it is not."""
    if type(value) is type:
        return value  # a plain class: the common case
    key = unwrap(value)
    if not is_key(key):
        message = (
            f"{value!r} is not a type; a service is asked for by its class, "
            "its Protocol or abstract base, or a generic alias of a class"
        )
        raise TypeError(message)
    return key


def describe(value: object, *, qualified: bool = False) -> str:
    """Name a key, provider or annotation the way messages show it."""
    origin = get_origin(value)
    if origin in _UNIONS:
        return " | ".join(
            "None" if a is type(None) else describe(a, qualified=qualified)
            for a in get_args(value)
        )
    if origin is not None and origin is not Annotated and get_args(value):
        args = ", ".join(
            describe(a, qualified=qualified) for a in get_args(value)
        )
        return f"{describe(origin, qualified=qualified)}[{args}]"
    name = getattr(value, "__qualname__", None) or getattr(
        value, "__name__", None
    )
    if not isinstance(name, str):
        return repr(value)
    module = getattr(value, "__module__", None)
    if qualified and module and module != "builtins":
        return f"{module}.{name}"
    return name


def describe_path(path: Iterable[object]) -> str:
    """Join keys with `` -> `` as dependency paths are shown."""
    return " -> ".join(describe(k) for k in path)
