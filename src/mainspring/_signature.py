"""Read a provider's annotations: what it makes and what it needs."""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
)
from typing import Any, get_args, get_origin

from mainspring._keys import describe, is_key, unwrap
from mainspring.exceptions import InvalidProviderError

EMPTY: Any = inspect.Parameter.empty


class Kind(enum.Enum):
    """How a provider makes its instance."""

    CLASS = "class"
    FUNCTION = "function"
    COROUTINE = "coroutine function"
    GENERATOR = "generator function"
    ASYNC_GENERATOR = "async generator function"
    INSTANCE = "instance"

    # Compared by identity: hashing a member calls Python code, and these
    # are asked once per service.
    @property
    def is_async(self) -> bool:
        return self is Kind.COROUTINE or self is Kind.ASYNC_GENERATOR

    @property
    def has_teardown(self) -> bool:
        return self is Kind.GENERATOR or self is Kind.ASYNC_GENERATOR


class Param:
    """One parameter of a provider, as the container will fill it.

    ``key`` is ``None`` when the parameter is never injected (no usable
    annotation, but a default). ``optional`` marks ``T | None``.
    ``required`` tells whether a missing provider for ``key`` is an error.
    """

    __slots__ = (
        "default",
        "key",
        "keyword_only",
        "name",
        "optional",
        "positional_only",
        "required",
    )

    # Positional only: thousands are made per graph, and a call with
    # keywords costs about twice as much.
    def __init__(
        self,
        name: str,
        key: object | None,
        default: Any,
        optional: bool,
        positional_only: bool,
        keyword_only: bool,
        /,
    ) -> None:
        self.name = name
        self.key = key
        self.default = default
        self.optional = optional
        self.positional_only = positional_only
        self.keyword_only = keyword_only
        self.required = key is not None and not optional and default is EMPTY

    def __repr__(self) -> str:
        return f"<Param {self.name}: {describe(self.key)}>"


_SYNC_YIELDS = {Iterator, Iterable, Generator}
_ASYNC_YIELDS = {AsyncIterator, AsyncIterable, AsyncGenerator}


def kind_of(provider: object) -> Kind:
    """Classify ``provider``, raising when it is no class or function."""
    if isinstance(provider, type):
        return Kind.CLASS
    target = inspect.unwrap(provider) if callable(provider) else provider
    if inspect.isasyncgenfunction(target):
        return Kind.ASYNC_GENERATOR
    if inspect.isgeneratorfunction(target):
        return Kind.GENERATOR
    if inspect.iscoroutinefunction(target):
        return Kind.COROUTINE
    if inspect.isfunction(target) or inspect.ismethod(target):
        return Kind.FUNCTION
    message = (
        f"{provider!r} is neither a class nor a function, so it cannot "
        "provide a service"
    )
    hint = "use register_instance() for a ready object"
    raise InvalidProviderError(provider, message, hint)


def made_key(provider: Any, kind: Kind) -> object:
    """The key a provider makes: the class, or the factory's return type."""
    if kind is Kind.CLASS:
        return provider
    hints = _hints(provider, provider, "return")
    annotation = hints.get("return", EMPTY)
    name = describe(provider)
    if annotation is EMPTY or annotation is None or annotation is type(None):
        message = f"factory {name} has no return annotation"
        hint = "annotate what it makes, or pass provides="
        raise InvalidProviderError(provider, message, hint)
    annotation = unwrap(annotation)
    if kind.has_teardown:
        wanted = _SYNC_YIELDS if kind is Kind.GENERATOR else _ASYNC_YIELDS
        if get_origin(annotation) not in wanted or not get_args(annotation):
            shape = (
                "Iterator[T]" if kind is Kind.GENERATOR else "AsyncIterator[T]"
            )
            message = (
                f"generator factory {name} must be annotated as returning "
                f"{shape}, not {describe(annotation)}"
            )
            raise InvalidProviderError(provider, message)
        annotation = unwrap(get_args(annotation)[0])
    if not is_key(annotation):
        message = (
            f"factory {name} returns {describe(annotation)}, which is not a "
            "type that can name a service"
        )
        raise InvalidProviderError(provider, message)
    return annotation


_VARIADIC = frozenset(
    {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}
)

# A parameter as read from a signature: its name, its default, and whether
# it is positional-only or keyword-only.
_Raw = tuple[str, Any, bool, bool]


def params_of(provider: Any, kind: Kind) -> tuple[Param, ...]:
    """The parameters a provider takes, with the key each one asks for."""
    if kind is Kind.INSTANCE:
        return ()
    target = _hint_target(provider, kind)
    skip = _plain_function(provider, target, kind)
    if skip is None:
        parameters = _slow_parameters(provider, target, kind)
    else:
        plain = _plain_params(target, skip)
        if plain is not None:
            return plain
        parameters = _fast_parameters(target, skip)
    hints = _hints(provider, target, *(raw[0] for raw in parameters))
    return tuple(
        _param(provider, raw, hints.get(raw[0])) for raw in parameters
    )


def _slow_parameters(provider: Any, target: Any, kind: Kind) -> list[_Raw]:
    """Read parameters through `inspect.signature`, for any callable."""
    signature = _read_signature(provider, provider)
    if kind is Kind.CLASS and _passes_through(signature):
        # A metaclass __call__(cls, *args, **kwargs) says nothing about
        # what the class needs; its __init__ (or __new__) does.
        own = _read_signature(provider, target)
        signature = own.replace(parameters=list(own.parameters.values())[1:])
    return [
        (
            p.name,
            p.default,
            p.kind is p.POSITIONAL_ONLY,
            p.kind is p.KEYWORD_ONLY,
        )
        for p in signature.parameters.values()
        if p.kind not in _VARIADIC
    ]


def _read_signature(provider: Any, target: Any) -> inspect.Signature:
    try:
        return inspect.signature(target)
    except (TypeError, ValueError) as exc:
        message = f"cannot read the signature of {describe(provider)}: {exc}"
        raise InvalidProviderError(provider, message) from exc


def _passes_through(signature: inspect.Signature) -> bool:
    """Tell whether a signature only forwards ``*args`` and ``**kwargs``."""
    kinds = {p.kind for p in signature.parameters.values()}
    return bool(kinds) and kinds <= _VARIADIC


def _plain_function(provider: Any, target: Any, kind: Kind) -> int | None:
    """How many leading parameters to skip if ``target`` can be read fast.

    That is a plain Python function that Python calls as it is: not wrapped,
    without a ``__signature__``, and for a class, one whose metaclass and
    ``__new__`` pass the arguments through. ``None`` otherwise.
    """
    if kind is Kind.CLASS:
        if (
            type(provider).__call__ is not type.__call__
            or provider.__new__ is not object.__new__
            or "__signature__" in provider.__dict__
        ):
            return None
        skip = 1  # self
    else:
        skip = 0
    if (
        type(target) is not types.FunctionType
        or hasattr(target, "__wrapped__")
        or hasattr(target, "__signature__")
    ):
        return None
    return skip


def _plain_params(target: Any, skip: int) -> tuple[Param, ...] | None:
    """The common shape in one pass: ``__init__(self, db: Database)``.

    Every parameter goes by position or keyword, has no default, and is
    annotated with a plain class. ``None`` for anything else.
    """
    code = target.__code__
    if (
        target.__defaults__
        or code.co_posonlyargcount
        or code.co_kwonlyargcount
    ):
        return None
    annotations = target.__annotations__
    params = []
    for name in code.co_varnames[skip : code.co_argcount]:
        annotation = annotations.get(name)
        if type(annotation) is not type:
            return None
        params.append(Param(name, annotation, EMPTY, False, False, False))
    return tuple(params)


def _fast_parameters(target: Any, skip: int) -> list[_Raw]:
    """Read parameters straight from a plain function's code object.

    inspect.signature costs tens of microseconds per class; this covers
    every plain function in a few.
    """
    code = target.__code__
    positional = code.co_argcount
    names = code.co_varnames[: positional + code.co_kwonlyargcount]
    defaults = target.__defaults__ or ()
    first_default = positional - len(defaults)
    positional_only = code.co_posonlyargcount
    parameters: list[_Raw] = [
        (
            names[index],
            defaults[index - first_default]
            if index >= first_default
            else EMPTY,
            index < positional_only,
            False,
        )
        for index in range(skip, positional)
    ]
    if len(names) > positional:
        keyword_defaults = target.__kwdefaults__ or {}
        parameters.extend(
            (name, keyword_defaults.get(name, EMPTY), False, True)
            for name in names[positional:]
        )
    return parameters


def _param(provider: object, raw: _Raw, annotation: object) -> Param:
    name, default, positional_only, keyword_only = raw
    key, optional = _key_of(annotation)
    if key is None and default is EMPTY:
        where = f"parameter {name!r} of {describe(provider)}"
        if annotation is None:
            message = f"{where} has neither a type annotation nor a default"
            raise InvalidProviderError(provider, message)
        message = (
            f"{where} is annotated with {describe(annotation)}, which is "
            "not a type that can name a service"
        )
        hint = "give it a default, or annotate it with a class"
        raise InvalidProviderError(provider, message, hint)
    return Param(name, key, default, optional, positional_only, keyword_only)


def _key_of(annotation: object) -> tuple[object | None, bool]:
    if type(annotation) is type:
        return annotation, False  # a plain class: the common case
    if annotation is None:
        return None, False
    annotation = unwrap(annotation)
    if get_origin(annotation) in {types.UnionType, typing.Union}:
        members = [unwrap(a) for a in get_args(annotation)]
        if type(None) not in members:
            return None, False
        others = [a for a in members if a is not type(None)]
        if len(others) == 1 and is_key(others[0]):
            return others[0], True
        return None, False
    return (annotation, False) if is_key(annotation) else (None, False)


def _hint_target(provider: Any, kind: Kind) -> Any:
    if kind is not Kind.CLASS:
        return provider
    # A class's needs are those of whichever __init__ or __new__ Python calls.
    init = provider.__init__
    if init is not object.__init__:
        return init
    new = provider.__new__
    return new if new is not object.__new__ else init


def _hints(provider: Any, target: Any, *names: str) -> dict[str, object]:
    """Evaluate the annotations of ``names``, naming any that cannot be."""
    raw = getattr(target, "__annotations__", None) or {}
    hints: dict[str, object] = {}
    for name in names:
        if name not in raw:
            continue
        annotation = raw[name]
        if isinstance(annotation, type):
            hints[name] = annotation  # the common case: nothing to evaluate
            continue
        try:
            hints[name] = _evaluate(provider, target, annotation)
        except NameError as exc:
            raise _unresolved(provider, name, annotation, exc) from exc
        except Exception as exc:
            what = "return annotation" if name == "return" else repr(name)
            message = (
                f"cannot evaluate the annotation {annotation!r} of {what} in "
                f"{describe(provider)}: {exc}"
            )
            raise InvalidProviderError(provider, message) from exc
    return hints


def _evaluate(provider: Any, target: Any, annotation: object) -> object:
    if isinstance(annotation, str):
        annotation = typing.ForwardRef(annotation)
    if not isinstance(annotation, typing.ForwardRef | types.GenericAlias) and (
        get_origin(annotation) is None
    ):
        return annotation
    # get_type_hints on a throwaway holder evaluates nested forward
    # references the same way Python's own typing does.
    holder = types.SimpleNamespace(__annotations__={"a": annotation})
    localns: dict[str, Any] = {}
    if isinstance(provider, type):
        localns[provider.__name__] = provider
    globalns = getattr(inspect.unwrap(target), "__globals__", None)
    module = sys.modules.get(getattr(provider, "__module__", "") or "")
    module_globals = getattr(module, "__dict__", None)
    try:
        return typing.get_type_hints(
            holder, globalns or module_globals, localns, include_extras=True
        )["a"]
    except NameError:
        # Generated functions (a dataclass's __init__) may carry other
        # globals than the module that defines the names.
        if module_globals is None or module_globals is globalns:
            raise
        return typing.get_type_hints(
            holder, module_globals, localns, include_extras=True
        )["a"]


def _unresolved(
    provider: Any, name: str, annotation: object, exc: NameError
) -> InvalidProviderError:
    missing = exc.name or str(exc)
    module = getattr(provider, "__module__", "?")
    what = (
        "the return annotation" if name == "return" else f"parameter {name!r}"
    )
    message = (
        f"cannot resolve the annotation {annotation!r} of {what} of "
        f"{describe(provider)}: name {missing!r} is not defined in module "
        f"{module}"
    )
    hint = (
        "is it imported only under TYPE_CHECKING, or defined inside a "
        "function?"
    )
    return InvalidProviderError(provider, message, hint)
