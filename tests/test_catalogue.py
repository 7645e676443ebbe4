"""A catalogue of bad declarations and misuses, and what each one raises.

Every entry is one mistake a user could make. Each asserts the class of the
error and its message: the message must name the culprit (the provider, the
parameter, the key) and, where the error is about the graph, the path from
the requested service to the problem. A message that only says "invalid"
leaves the user to find both by hand.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from unittest import mock

import pytest

from mainspring import (
    CircularDependencyError,
    Container,
    DuplicateServiceError,
    InvalidProviderError,
    MissingDependencyError,
    Registry,
    ScopeError,
    ShutdownError,
    StartupError,
    StateError,
    UnknownServiceError,
    _registry,
)

T = TypeVar("T")


# The services the mistakes are made with.


class Settings:
    pass


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Api:
    def __init__(self, database: Database) -> None:
        self.database = database


class Worker:
    def __init__(self, api: Api) -> None:
        self.api = api


class Cache(ABC):
    @abstractmethod
    def fetch(self) -> str: ...


class RedisCache:
    """Looks like a Cache, but does not subclass it."""

    def fetch(self) -> str:
        return "hit"


class MemoryCache(Cache):
    def fetch(self) -> str:
        return "hit"


class Greeter(Protocol):
    def greet(self) -> str: ...


class RequestId:
    pass


class Handler:
    def __init__(self, request: RequestId) -> None:
        self.request = request


class Router:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler


class Untyped:
    def __init__(self, thing) -> None:
        self.thing = thing


class KeywordUntyped:
    def __init__(self, *, thing) -> None:
        self.thing = thing


class UsesUntyped:
    def __init__(self, untyped: Untyped) -> None:
        self.untyped = untyped


class EitherOr:
    def __init__(self, value: int | str) -> None:
        self.value = value


class EitherOrNone:
    def __init__(self, value: int | str | None) -> None:
        self.value = value


class Anything:
    def __init__(self, value: Any) -> None:
        self.value = value


class TypeVarAnnotated:
    def __init__(self, value: T) -> None:
        self.value = value


class Misspelt:
    def __init__(self, value: Setings) -> None:  # noqa: F821 - on purpose
        self.value = value


class Unparseable:
    def __init__(self, value: object) -> None:
        self.value = value


# Annotations are strings under `from __future__ import annotations`; this
# one cannot even be parsed.
Unparseable.__init__.__annotations__["value"] = "list["


class NumberAnnotated:
    def __init__(self, value: 42) -> None:
        self.value = value


class Ping:
    def __init__(self, pong: Pong) -> None:
        self.pong = pong


class Pong:
    def __init__(self, ping: Ping) -> None:
        self.ping = ping


class PingUser:
    def __init__(self, ping: Ping) -> None:
        self.ping = ping


class Low:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Loop1:
    def __init__(self, low: Low, loop2: Loop2) -> None:
        self.low = low


class Loop2:
    def __init__(self, loop1: Loop1) -> None:
        self.loop1 = loop1


class Egg:
    def __init__(self, chicken: Chicken) -> None:
        self.chicken = chicken


class Chicken:
    def __init__(self, hen: Hen) -> None:
        self.hen = hen


class Hen:
    def __init__(self, egg: Egg) -> None:
        self.egg = egg


class Narcissus:
    def __init__(self, me: Narcissus) -> None:
        self.me = me


class AsksForItself:
    def __init__(self, container: Container) -> None:
        container.get(AsksForItself)


class AsyncStatus:
    async def status(self) -> None:
        pass


class OtherAsyncStatus:
    async def status(self) -> None:
        pass


@dataclass
class Config:
    name: str = "config"


# Factories with something wrong.


def untyped_factory(thing) -> Settings:
    return Settings()


def no_return_annotation(settings: Settings):
    return Database(settings)


def returns_none(settings: Settings) -> None:
    return None


def returns_any() -> Any:
    return Settings()


def plainly_annotated_generator() -> Settings:
    yield Settings()


async def async_generator_as_iterator() -> Iterator[Settings]:
    yield Settings()


def never_yields() -> Iterator[Settings]:
    if False:
        yield Settings()


async def never_yields_async() -> AsyncIterator[Settings]:
    if False:
        yield Settings()


def yields_twice() -> Iterator[Settings]:
    yield Settings()
    yield Settings()


async def yields_twice_async() -> AsyncIterator[Settings]:
    yield Settings()
    yield Settings()


async def database(settings: Settings) -> Database:
    return Database(settings)


async def request_id() -> RequestId:
    return RequestId()


def make_redis() -> RedisCache:
    return RedisCache()


def other_settings() -> Settings:
    return Settings()


def pool() -> Iterator[Settings]:
    yield Settings()


# How each mistake is made.


def registry_container(*steps: tuple) -> Container:
    """A container filled by register() calls: ``(provider, options)``."""
    container = Container(Registry())
    for provider, options in steps:
        container.register(provider, **options)
    return container


def get_after(*providers, key, steps=("start", "stop")) -> Callable:
    def trigger():
        container = Container(*providers)
        for step in steps:
            getattr(container, step)()
        return container.get(key)

    return trigger


def override(container_of: Callable, key, replacement, *, use=None):
    def trigger():
        container = container_of()
        if use is not None:
            use(container)
        with container.override(key, replacement):
            container.get(key)

    return trigger


def stop_of(provider) -> Callable:
    def trigger():
        container = Container(provider)
        container.get(Settings)
        container.stop()

    return trigger


def astop_of(provider) -> Callable:
    async def main():
        container = Container(provider)
        await container.aget(Settings)
        await container.astop()

    return lambda: asyncio.run(main())


def started_twice(second: str) -> Callable:
    def trigger():
        container = Container(Settings)
        container.start()
        try:
            getattr(container, second)()
        finally:
            container.stop()

    return trigger


def inside_loop(action: Callable, *providers) -> Callable:
    async def main():
        container = Container(*(providers or (AsyncStatus,)))
        await container.astart()
        try:
            action(container)
        finally:
            await container.astop()

    return lambda: asyncio.run(main())


def astop_elsewhere():
    container = Container(Settings)
    container.start()
    try:
        asyncio.run(container.astop())
    finally:
        container.stop()


def override_ends_while_running():
    container = Container(Settings, Database)
    try:
        with container.override(Settings, Settings()):
            container.start()
    finally:
        container.stop()


def register_after(method: str, *args) -> Callable:
    def trigger():
        container = Container(Settings)
        container.get(Settings)
        getattr(container, method)(*args)

    return trigger


def _registry_of(provider) -> Registry:
    registry = Registry()
    registry.service(provider)
    return registry


def _number_declared_with_a_registry() -> None:
    # Declared as if no @service(...) had run before in this process, so the
    # result does not depend on which tests ran first: after one, the
    # decorator itself raises TypeError (a known bug, see tests/test_lazy.py).
    with mock.patch.object(_registry._declared, "_options", None):
        registry = _registry_of(42)
    Container(registry).order  # noqa: B018


def _other_cache() -> type:
    class OtherCache(Cache):
        def fetch(self) -> str:
            return "miss"

    OtherCache.__qualname__ = "OtherCache"
    return OtherCache


def _container_as_service() -> Container:
    container = Container(Registry())
    container.register_instance(Container(Settings))
    return container


def _settings_twin() -> type:
    return type("Setting", (), {"__qualname__": "Setting"})


def _order(container: Container) -> None:
    assert container.order


def _started(container: Container) -> None:
    container.start()
    container.stop()


def _transient_after_stop():
    container = registry_container((RequestId, {"scope": "transient"}))
    container.get(RequestId)
    container.stop()
    return container.get(RequestId)


def _after_failed_start():
    class Broken:
        def start(self) -> None:
            message = "no"
            raise RuntimeError(message)

    container = Container(Settings, Broken)
    with pytest.raises(StartupError, match="Broken failed to start"):
        container.start()
    return container.get(Settings)


def _start_after_stop():
    container = Container(Settings)
    container.start()
    container.stop()
    container.start()


@dataclass(frozen=True)
class Case:
    """One mistake: how to make it, what it raises, what the text says.

    ``message`` is the whole message, or a compiled pattern for the part of
    it that does not depend on object addresses.
    """

    trigger: Callable[[], object]
    error: type[BaseException]
    message: str | re.Pattern[str]
    facts: dict[str, object] | None = None
    # The words of the message that name what is wrong.
    culprit: str = field(kw_only=True)


NOT_A_KEY = (
    " is not a type; a service is asked for by its class, its Protocol or "
    "abstract base, or a generic alias of a class"
)
NO_ANNOTATION = " has neither a type annotation nor a default"
NOT_A_SERVICE_TYPE = (
    ", which is not a type that can name a service; give it a default, or "
    "annotate it with a class"
)
NO_RETURN = (
    " has no return annotation; annotate what it makes, or pass provides="
)
NOT_A_PROVIDER = (
    " is neither a class nor a function, so it cannot provide a service; "
    "use register_instance() for a ready object"
)
ALREADY_USED = (
    ": the container is already in use; register every provider before the "
    "first get(), order, start() or with"
)

CATALOGUE: dict[str, Case] = {
    # Annotations
    "parameter without annotation or default": Case(
        lambda: Container(Untyped).order,
        InvalidProviderError,
        f"parameter 'thing' of Untyped{NO_ANNOTATION}",
        {"provider": Untyped},
        culprit="'thing' of Untyped",
    ),
    "keyword-only parameter without annotation": Case(
        lambda: Container(KeywordUntyped).order,
        InvalidProviderError,
        f"parameter 'thing' of KeywordUntyped{NO_ANNOTATION}",
        culprit="'thing' of KeywordUntyped",
    ),
    "unannotated parameter of a dependency": Case(
        lambda: Container(UsesUntyped, Untyped).get(UsesUntyped),
        InvalidProviderError,
        f"parameter 'thing' of Untyped{NO_ANNOTATION} "
        "(needed by UsesUntyped -> Untyped)",
        {"provider": Untyped, "path": [UsesUntyped, Untyped]},
        culprit="'thing' of Untyped",
    ),
    "factory parameter without annotation": Case(
        lambda: Container(untyped_factory).order,
        InvalidProviderError,
        f"parameter 'thing' of untyped_factory{NO_ANNOTATION}",
        culprit="'thing' of untyped_factory",
    ),
    "union annotation": Case(
        lambda: Container(EitherOr).order,
        InvalidProviderError,
        f"parameter 'value' of EitherOr is annotated with int | str"
        f"{NOT_A_SERVICE_TYPE}",
        culprit="'value' of EitherOr",
    ),
    "optional union of two types": Case(
        lambda: Container(EitherOrNone).order,
        InvalidProviderError,
        "parameter 'value' of EitherOrNone is annotated with int | str | None"
        f"{NOT_A_SERVICE_TYPE}",
        culprit="'value' of EitherOrNone",
    ),
    "Any annotation": Case(
        lambda: Container(Anything).order,
        InvalidProviderError,
        f"parameter 'value' of Anything is annotated with Any"
        f"{NOT_A_SERVICE_TYPE}",
        culprit="'value' of Anything",
    ),
    "TypeVar annotation": Case(
        lambda: Container(TypeVarAnnotated).order,
        InvalidProviderError,
        "parameter 'value' of TypeVarAnnotated is annotated with T"
        f"{NOT_A_SERVICE_TYPE}",
        culprit="'value' of TypeVarAnnotated",
    ),
    "number as annotation": Case(
        lambda: Container(NumberAnnotated).order,
        InvalidProviderError,
        f"parameter 'value' of NumberAnnotated is annotated with 42"
        f"{NOT_A_SERVICE_TYPE}",
        culprit="'value' of NumberAnnotated",
    ),
    "misspelt name in annotation": Case(
        lambda: Container(Misspelt).order,
        InvalidProviderError,
        "cannot resolve the annotation 'Setings' of parameter 'value' of "
        f"Misspelt: name 'Setings' is not defined in module {__name__}; is "
        "it imported only under TYPE_CHECKING, or defined inside a function?",
        culprit="'Setings'",
    ),
    "unparseable annotation": Case(
        lambda: Container(Unparseable).order,
        InvalidProviderError,
        re.compile(
            r"cannot evaluate the annotation 'list\[' of 'value' in "
            r"Unparseable: .+"
        ),
        culprit="'value' in Unparseable",
    ),
    # Factories
    "factory without return annotation": Case(
        lambda: Container(Settings, no_return_annotation).order,
        InvalidProviderError,
        f"factory no_return_annotation{NO_RETURN}",
        {"provider": no_return_annotation},
        culprit="no_return_annotation",
    ),
    "factory returning None": Case(
        lambda: Container(Settings, returns_none).order,
        InvalidProviderError,
        f"factory returns_none{NO_RETURN}",
        culprit="returns_none",
    ),
    "factory returning Any": Case(
        lambda: Container(returns_any).order,
        InvalidProviderError,
        "factory returns_any returns Any, which is not a type that can name "
        "a service",
        culprit="returns_any",
    ),
    "lambda as factory": Case(
        lambda: Container(lambda: Settings()).order,  # noqa: PLW0108
        InvalidProviderError,
        re.compile(r"factory .*<lambda>" + re.escape(NO_RETURN)),
        culprit="<lambda>",
    ),
    "generator factory annotated with the plain type": Case(
        lambda: Container(plainly_annotated_generator).order,
        InvalidProviderError,
        "generator factory plainly_annotated_generator must be annotated as "
        "returning Iterator[T], not Settings",
        culprit="plainly_annotated_generator",
    ),
    "async generator annotated as Iterator": Case(
        lambda: Container(async_generator_as_iterator).order,
        InvalidProviderError,
        "generator factory async_generator_as_iterator must be annotated as "
        "returning AsyncIterator[T], not Iterator[Settings]",
        culprit="async_generator_as_iterator",
    ),
    "generator that never yields": Case(
        lambda: Container(never_yields).get(Settings),
        InvalidProviderError,
        "generator factory never_yields for Settings returned without "
        "yielding a value",
        culprit="never_yields for Settings",
    ),
    "async generator that never yields": Case(
        lambda: asyncio.run(Container(never_yields_async).aget(Settings)),
        InvalidProviderError,
        "generator factory never_yields_async for Settings returned without "
        "yielding a value",
        culprit="never_yields_async for Settings",
    ),
    "generator that yields twice": Case(
        stop_of(yields_twice),
        ShutdownError,
        "stopping left failures in Settings (1 sub-exception)",
        {
            "services": [Settings],
            "member": "generator factory for Settings yielded more than "
            "once; it must yield exactly one value",
            "note": "while tearing down Settings",
        },
        culprit="in Settings",
    ),
    "async generator that yields twice": Case(
        astop_of(yields_twice_async),
        ShutdownError,
        "stopping left failures in Settings (1 sub-exception)",
        {
            "services": [Settings],
            "member": "generator factory for Settings yielded more than "
            "once; it must yield exactly one value",
            "note": "while tearing down Settings",
        },
        culprit="in Settings",
    ),
    "generator factory declared transient": Case(
        lambda: registry_container((pool, {"scope": "transient"})).order,
        InvalidProviderError,
        "generator factory pool cannot be transient: its teardown needs a "
        "lifecycle, which only singletons have",
        culprit="factory pool",
    ),
    # Providers that are not providers
    "number as provider": Case(
        lambda: Container(42),
        InvalidProviderError,
        f"42{NOT_A_PROVIDER}",
        {"provider": 42},
        culprit="42",
    ),
    "instance as provider": Case(
        lambda: Container(Config("given")),
        InvalidProviderError,
        f"Config(name='given'){NOT_A_PROVIDER}",
        culprit="Config(name='given')",
    ),
    "module as provider": Case(
        lambda: registry_container((sys, {})),
        InvalidProviderError,
        f"{sys!r}{NOT_A_PROVIDER}",
        culprit="<module 'sys'",
    ),
    "partial as provider": Case(
        lambda: Container(functools.partial(Settings)),
        InvalidProviderError,
        f"functools.partial(<class '{__name__}.Settings'>){NOT_A_PROVIDER}",
        culprit="functools.partial(",
    ),
    "number declared with a registry's decorator": Case(
        _number_declared_with_a_registry,
        InvalidProviderError,
        f"42{NOT_A_PROVIDER}",
        culprit="42",
    ),
    "container registered as a service": Case(
        lambda: _container_as_service().order,
        InvalidProviderError,
        "a container cannot be registered as a service; a parameter "
        "annotated with Container receives the container that builds it",
        culprit="a container cannot be registered",
    ),
    "abstract class as provider": Case(
        lambda: Container(Cache).order,
        InvalidProviderError,
        "Cache is abstract and cannot be built; register a concrete class "
        "with provides=",
        culprit="Cache is abstract",
    ),
    "Protocol as provider": Case(
        lambda: Container(Greeter).order,
        InvalidProviderError,
        "Greeter is abstract and cannot be built; register a concrete class "
        "with provides=",
        culprit="Greeter is abstract",
    ),
    # provides=
    "provides= a class the class does not subclass": Case(
        lambda: registry_container((RedisCache, {"provides": Cache})).order,
        InvalidProviderError,
        "RedisCache is registered with provides=Cache but RedisCache is not "
        "a subclass of Cache",
        {"provider": RedisCache},
        culprit="RedisCache is registered",
    ),
    "provides= a class the factory's product does not subclass": Case(
        lambda: registry_container((make_redis, {"provides": Cache})).order,
        InvalidProviderError,
        "make_redis is registered with provides=Cache but RedisCache is not "
        "a subclass of Cache",
        culprit="make_redis",
    ),
    "register_instance provides= a class the object is not": Case(
        lambda: Container(Registry()).register_instance(
            RedisCache(), provides=Cache
        ),
        InvalidProviderError,
        "an instance of RedisCache is registered with provides=Cache but is "
        "not an instance of Cache",
        culprit="an instance of RedisCache",
    ),
    "provides= a Protocol the class does not implement": Case(
        lambda: registry_container((Settings, {"provides": Greeter})).order,
        InvalidProviderError,
        "Settings is registered with provides=Greeter but Settings lacks "
        "greet(), which Greeter declares",
        {"provider": Settings},
        culprit="Settings lacks greet()",
    ),
    "provides= a Protocol the factory's product does not implement": Case(
        lambda: registry_container((make_redis, {"provides": Greeter})).order,
        InvalidProviderError,
        "make_redis is registered with provides=Greeter but RedisCache lacks "
        "greet(), which Greeter declares",
        culprit="RedisCache lacks greet()",
    ),
    "register_instance provides= a Protocol the object does not implement": (
        Case(
            lambda: Container(Registry()).register_instance(
                RedisCache(), provides=Greeter
            ),
            InvalidProviderError,
            "an instance of RedisCache is registered with provides=Greeter "
            "but lacks greet(), which Greeter declares",
            culprit="an instance of RedisCache",
        )
    ),
    "provides= that is not a type": Case(
        lambda: Registry().service(provides="Cache")(MemoryCache),
        TypeError,
        "provides='Cache' for MemoryCache is not a type",
        culprit="provides='Cache'",
    ),
    "unknown scope": Case(
        lambda: Registry().service(scope="request")(Settings),
        ValueError,
        "scope of Settings must be 'singleton' or 'transient', not 'request'",
        culprit="'request'",
    ),
    "negative timeout": Case(
        lambda: Registry().service(start_timeout=-1)(Settings),
        ValueError,
        "start_timeout of Settings must be a positive number of seconds or "
        "None, not -1",
        culprit="start_timeout of Settings",
    ),
    "boolean timeout": Case(
        lambda: Container(Settings, stop_timeout=True),
        ValueError,
        "stop_timeout of Container must be a positive number of seconds or "
        "None, not True",
        culprit="stop_timeout of Container",
    ),
    # The graph
    "missing dependency": Case(
        lambda: Container(Worker, Api, Database).get(Worker),
        MissingDependencyError,
        "no provider for Settings (needed by Worker -> Api -> Database -> "
        "Settings)",
        {"key": Settings, "path": [Worker, Api, Database, Settings]},
        culprit="no provider for Settings",
    ),
    "missing dependency, asked from the middle": Case(
        lambda: Container(Worker, Api, Database).get(Api),
        MissingDependencyError,
        "no provider for Settings (needed by Api -> Database -> Settings)",
        {"key": Settings, "path": [Api, Database, Settings]},
        culprit="no provider for Settings",
    ),
    "missing dependency, found by order": Case(
        lambda: Container(Worker, Api, Database).order,
        MissingDependencyError,
        "no provider for Settings (needed by Worker -> Api -> Database -> "
        "Settings)",
        {"key": Settings, "path": [Worker, Api, Database, Settings]},
        culprit="no provider for Settings",
    ),
    "cycle of two": Case(
        lambda: Container(Ping, Pong).order,
        CircularDependencyError,
        "circular dependency: Ping -> Pong -> Ping",
        {"cycle": [Ping, Pong, Ping]},
        culprit="Ping -> Pong -> Ping",
    ),
    "cycle of three": Case(
        lambda: Container(Hen, Egg, Chicken).get(Egg),
        CircularDependencyError,
        "circular dependency: Hen -> Egg -> Chicken -> Hen",
        {"cycle": [Hen, Egg, Chicken, Hen]},
        culprit="Hen -> Egg -> Chicken -> Hen",
    ),
    "cycle reached through a dependent": Case(
        lambda: Container(PingUser, Pong, Ping).order,
        CircularDependencyError,
        # The cycle is shown from its earliest registered member.
        "circular dependency: Pong -> Ping -> Pong",
        {"cycle": [Pong, Ping, Pong]},
        culprit="Pong -> Ping -> Pong",
    ),
    "missing dependency below a cycle": Case(
        lambda: Container(Loop1, Loop2, Low).order,
        MissingDependencyError,
        "no provider for Settings (needed by Loop2 -> Loop1 -> Low -> "
        "Settings)",
        {"key": Settings, "path": [Loop2, Loop1, Low, Settings]},
        culprit="no provider for Settings",
    ),
    "missing dependency, found asking for an unknown key": Case(
        lambda: Container(Worker, Api, Database).get(RequestId),
        MissingDependencyError,
        "no provider for Settings (needed by Worker -> Api -> Database -> "
        "Settings)",
        {"key": Settings, "path": [Worker, Api, Database, Settings]},
        culprit="no provider for Settings",
    ),
    "service needing itself": Case(
        lambda: Container(Narcissus).order,
        CircularDependencyError,
        "circular dependency: Narcissus -> Narcissus",
        {"cycle": [Narcissus, Narcissus]},
        culprit="Narcissus -> Narcissus",
    ),
    "constructor asking for itself": Case(
        lambda: Container(AsksForItself).get(AsksForItself),
        CircularDependencyError,
        "circular dependency: AsksForItself -> AsksForItself; AsksForItself "
        "asked for AsksForItself while it was being built",
        {"cycle": [AsksForItself, AsksForItself]},
        culprit="AsksForItself asked for AsksForItself",
    ),
    "two providers for one key": Case(
        lambda: Container(Settings, other_settings).order,
        DuplicateServiceError,
        "Settings is provided twice: by Settings and by other_settings; "
        "replace a provider with overrides= or container.override()",
        {"key": Settings},
        culprit="by Settings and by other_settings",
    ),
    "two classes with the same provides=": Case(
        lambda: (
            registry_container(
                (MemoryCache, {"provides": Cache}),
                (_other_cache(), {"provides": Cache}),
            ).order
        ),
        DuplicateServiceError,
        "Cache is provided twice: by MemoryCache and by OtherCache; replace "
        "a provider with overrides= or container.override()",
        {"key": Cache},
        culprit="by MemoryCache and by OtherCache",
    ),
    "singleton needing a transient": Case(
        lambda: registry_container(
            (RequestId, {"scope": "transient"}), (Handler, {}), (Router, {})
        ).get(Router),
        ScopeError,
        "singleton Handler depends on transient RequestId (Router -> Handler "
        "-> RequestId); a singleton would keep one transient instance forever",
        {"path": [Router, Handler, RequestId]},
        culprit="Handler depends on transient RequestId",
    ),
    # Keys
    "number as key": Case(
        lambda: Container(Settings).get(42),
        TypeError,
        f"42{NOT_A_KEY}",
        culprit="42",
    ),
    "string as key": Case(
        lambda: Container(Settings).get("Settings"),
        TypeError,
        f"'Settings'{NOT_A_KEY}",
        culprit="'Settings'",
    ),
    "optional as key": Case(
        lambda: Container(Settings).get(Settings | None),
        TypeError,
        f"{Settings | None!r}{NOT_A_KEY}",
        culprit="Settings | None",
    ),
    "None as key": Case(
        lambda: Container(Settings).get(None),
        TypeError,
        f"None{NOT_A_KEY}",
        culprit="None",
    ),
    "number as key, asynchronously": Case(
        lambda: asyncio.run(Container(Settings).aget(42)),
        TypeError,
        f"42{NOT_A_KEY}",
        culprit="42",
    ),
    "unhashable key, asynchronously": Case(
        lambda: asyncio.run(Container(Settings).aget([Settings])),
        TypeError,
        f"[<class '{__name__}.Settings'>]{NOT_A_KEY}",
        culprit="[<class",
    ),
    "unknown key with a close name": Case(
        lambda: Container(Settings, Database).get(_settings_twin()),
        UnknownServiceError,
        "no service Setting is registered; closest: Settings",
        {"suggestions": [Settings]},
        culprit="service Setting",
    ),
    "unknown key": Case(
        lambda: Container(Settings).get(RequestId),
        UnknownServiceError,
        "no service RequestId is registered",
        {"key": RequestId, "suggestions": []},
        culprit="service RequestId",
    ),
    # Async factories under the sync API
    "async factory under get": Case(
        lambda: Container(Settings, database).get(Database),
        StateError,
        "Database is made by an async factory; use 'await "
        "container.aget(Database)', or start the container first so that "
        "it is already built",
        culprit="Database is made",
    ),
    "async factory under get, one level down": Case(
        lambda: Container(Settings, database, Api).get(Api),
        StateError,
        "Database (needed by Api) is made by an async factory; use 'await "
        "container.aget(Api)', or start the container first so that it is "
        "already built",
        culprit="Database (needed by Api)",
    ),
    "async transient factory under get": Case(
        lambda: registry_container((request_id, {"scope": "transient"})).get(
            RequestId
        ),
        StateError,
        "RequestId is made by an async factory; use 'await "
        "container.aget(RequestId)'",
        culprit="RequestId is made",
    ),
    # Overrides
    "override of an unknown key": Case(
        override(lambda: Container(Settings), Database, object(), use=_order),
        UnknownServiceError,
        "cannot override Database: no service Database is registered",
        {"key": Database},
        culprit="service Database",
    ),
    "override of an unknown key before first use": Case(
        override(lambda: Container(Settings), Database, object()),
        UnknownServiceError,
        "cannot override Database: no service Database is registered",
        {"key": Database},
        culprit="service Database",
    ),
    "overrides= of an unknown key": Case(
        lambda: Container(Settings, overrides={Database: object()}).order,
        UnknownServiceError,
        "cannot override Database: no service Database is registered",
        {"action": "override Database"},
        culprit="service Database",
    ),
    "override of a built key": Case(
        override(
            lambda: Container(Settings, Database),
            Settings,
            Settings(),
            use=lambda c: c.get(Database),
        ),
        StateError,
        "cannot override Settings: it is already built; override before the "
        "first get() or start()",
        culprit="override Settings",
    ),
    "override of a key that is not a type": Case(
        override(lambda: Container(Settings), "Settings", Settings()),
        TypeError,
        f"'Settings'{NOT_A_KEY}",
        culprit="'Settings'",
    ),
    "override after stop": Case(
        override(
            lambda: Container(Settings), Settings, Settings(), use=_started
        ),
        StateError,
        "cannot override Settings: the container has stopped",
        culprit="override Settings",
    ),
    "override ending while started": Case(
        override_ends_while_running,
        StateError,
        "cannot end the override of Settings while the container runs: "
        "started services hold the replacement; stop the container inside "
        "the block",
        culprit="override of Settings",
    ),
    # The container's state
    "register after first use": Case(
        register_after("register", Database),
        StateError,
        f"cannot register Database{ALREADY_USED}",
        culprit="register Database",
    ),
    "register_instance after first use": Case(
        register_after("register_instance", Config("late")),
        StateError,
        f"cannot register Config(name='late'){ALREADY_USED}",
        culprit="register Config(name='late')",
    ),
    "get after stop": Case(
        get_after(Settings, Database, key=Database),
        StateError,
        "cannot get Database: the container has stopped; build a new "
        "container",
        culprit="get Database",
    ),
    "get of a transient after stop": Case(
        _transient_after_stop,
        StateError,
        "cannot get RequestId: the container has stopped; build a new "
        "container",
        culprit="get RequestId",
    ),
    "get after a failed start": Case(
        _after_failed_start,
        StateError,
        "cannot get Settings: the container has stopped; build a new "
        "container",
        culprit="get Settings",
    ),
    "start after stop": Case(
        _start_after_stop,
        StateError,
        "cannot start: the container is stopped; a container runs once, so "
        "build a new one",
        culprit="cannot start",
    ),
    "start twice": Case(
        started_twice("start"),
        StateError,
        "cannot start: the container is running; a container runs once, so "
        "build a new one",
        culprit="cannot start",
    ),
    "run after start": Case(
        started_twice("run"),
        StateError,
        "cannot start: the container is running; a container runs once, so "
        "build a new one",
        culprit="cannot start",
    ),
    "sync stop inside the container's loop": Case(
        inside_loop(Container.stop),
        StateError,
        "inside the container's event loop, use 'await container.astop()'",
        culprit="inside the container's event loop",
    ),
    "sync statuses inside the loop with an async status()": Case(
        inside_loop(Container.statuses),
        StateError,
        "the status() of AsyncStatus is async; inside the event loop, use "
        "'await container.astatuses()'",
        culprit="status() of AsyncStatus",
    ),
    "sync statuses inside the loop with two async status()": Case(
        inside_loop(Container.statuses, AsyncStatus, OtherAsyncStatus),
        StateError,
        "the status() of AsyncStatus, OtherAsyncStatus is async; inside the "
        "event loop, use 'await container.astatuses()'",
        culprit="AsyncStatus, OtherAsyncStatus",
    ),
    "astop on another loop": Case(
        astop_elsewhere,
        StateError,
        "astop() must run on the event loop the container was started on; "
        "use stop() from other threads",
        culprit="astop() must run",
    ),
}


@pytest.mark.parametrize("case", list(CATALOGUE.values()), ids=list(CATALOGUE))
def test_each_mistake_raises_an_error_naming_its_culprit(case: Case):
    """The error class is the documented one and the message says where."""
    with pytest.raises(case.error) as info:
        case.trigger()

    error = info.value
    text = str(error)
    if isinstance(case.message, re.Pattern):
        assert case.message.fullmatch(text), text
    else:
        assert text == case.message
    assert case.culprit in text
    facts = dict(case.facts or {})
    if isinstance(error, ExceptionGroup):
        (member,) = error.exceptions
        assert str(member) == facts.pop("member")
        assert facts.pop("note") in member.__notes__
    for name, value in facts.items():
        assert getattr(error, name) == value, name


# The parts of messages that many mistakes share: a culprit must be more.
SHARED = (
    NOT_A_KEY,
    NO_ANNOTATION,
    NOT_A_SERVICE_TYPE,
    NO_RETURN,
    NOT_A_PROVIDER,
    ALREADY_USED,
)


def catalogue_ids() -> list[str]:
    """The ids written in the CATALOGUE literal, repeats included.

    A repeated key in a dict literal silently replaces the case before it,
    so only the source shows it.
    """
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "CATALOGUE"
            and isinstance(node.value, ast.Dict)
        ):
            return [ast.literal_eval(key) for key in node.value.keys]
    pytest.fail("no CATALOGUE dict literal in this file")


def test_the_catalogue_is_long_enough():
    """At least thirty distinct mistakes, each naming its own culprit."""
    ids = catalogue_ids()
    triggers = {id(case.trigger) for case in CATALOGUE.values()}

    assert len(CATALOGUE) >= 30
    assert len(ids) == len(set(ids)) == len(CATALOGUE)
    assert len(triggers) == len(CATALOGUE)
    for name, case in CATALOGUE.items():
        message = case.message
        if isinstance(message, re.Pattern):
            # The literal text of the pattern, without its escapes.
            message = message.pattern.replace("\\", "")
        assert case.culprit.strip(), name
        assert case.culprit in message, name
        assert not any(case.culprit in shared for shared in SHARED), name


def test_a_mock_with_a_spec_may_stand_in_for_its_class():
    """register_instance checks provides= with isinstance, as mocks expect."""
    fake = mock.Mock(spec=MemoryCache)
    container = Container(Registry())

    container.register_instance(fake, provides=Cache)

    assert container.get(Cache) is fake


def test_an_unhashable_key_is_explained_by_get():
    """``get([...])`` says that a list is not a type."""
    with pytest.raises(TypeError, match="is not a type"):
        Container(Settings).get([Settings])
