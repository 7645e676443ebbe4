"""Resolution: what ``get`` and ``aget`` build, share and pass along."""

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated, Generic, NewType, Protocol, TypeVar

import pytest

import _future_services as future
from mainspring import Container, Registry, StateError


class Settings:
    def __init__(self) -> None:
        self.dsn = "sqlite://"


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Api:
    def __init__(self, database: Database) -> None:
        self.database = database


class Worker:
    def __init__(self, database: Database) -> None:
        self.database = database


class RequestId:
    pass


class Handler:
    def __init__(self, first: RequestId, second: RequestId) -> None:
        self.first = first
        self.second = second


class Session:
    def __init__(self, database: Database, request_id: RequestId) -> None:
        self.database = database
        self.request_id = request_id


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Pool:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_closed = False


class Client:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_closed = False


class Cache:
    pass


class Mailer:
    def __init__(self, cache: Cache | None = None) -> None:
        self.cache = cache


class Retrying:
    def __init__(self, settings: Settings, attempts: int = 3) -> None:
        self.settings = settings
        self.attempts = attempts


class Untyped:
    def __init__(self, settings: Settings, label="plain") -> None:
        self.settings = settings
        self.label = label


class Flexible:
    def __init__(self, settings: Settings, *args, **kwargs) -> None:
        self.settings = settings
        self.args = args
        self.kwargs = kwargs


class Quoted:
    def __init__(self, database: "Database", cache: "Cache | None" = None):
        self.database = database
        self.cache = cache


class Tagged:
    def __init__(self, settings: Annotated[Settings, "primary"]) -> None:
        self.settings = settings


@dataclass
class Report:
    database: Database
    title: str = "daily"


class PositionalOnly:
    def __init__(self, settings: Settings, database: Database, /) -> None:
        self.settings = settings
        self.database = database


class PositionalDefaults:
    def __init__(
        self, retries: int = 3, settings: Settings | None = None, /
    ) -> None:
        self.retries = retries
        self.settings = settings


class KeywordOnly:
    def __init__(self, *, settings: Settings, retries: int = 3) -> None:
        self.settings = settings
        self.retries = retries


class Repository(ABC):
    @abstractmethod
    def find(self) -> str: ...


class SqlRepository(Repository):
    def __init__(self, database: Database) -> None:
        self.database = database

    def find(self) -> str:
        return "row"


class Greeter(Protocol):
    def greet(self) -> str: ...


class EnglishGreeter:
    def greet(self) -> str:
        return "hello"


def engine(settings: Settings) -> Engine:
    return Engine(settings)


UserId = NewType("UserId", int)

T = TypeVar("T")


class Box(Generic[T]):
    def __init__(self, content: T) -> None:
        self.content = content


class Forwarding(type):
    """A metaclass whose ``__call__`` hides ``__init__`` behind ``*args``."""

    def __call__(cls, *args, **kwargs):
        instance = super().__call__(*args, **kwargs)
        instance.made_by_metaclass = True
        return instance


class Metered(metaclass=Forwarding):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Interned:
    def __new__(cls, settings: Settings):
        instance = super().__new__(cls)
        instance.settings = settings
        return instance


def registry_of(*providers, transient=()):
    registry = Registry()
    for provider in providers:
        registry.service(provider)
    for provider in transient:
        registry.service(scope="transient")(provider)
    return registry


# Scopes


def test_singleton_is_built_once_and_shared():
    """Every ``get`` of a singleton returns the same instance."""
    container = Container(Settings, Database)

    first = container.get(Database)
    second = container.get(Database)

    assert first is second


def test_dependents_share_one_singleton():
    """Two services that need a singleton receive the same object."""
    container = Container(Settings, Database, Api, Worker)

    api = container.get(Api)
    worker = container.get(Worker)

    assert api.database is worker.database
    assert api.database is container.get(Database)


def test_building_is_not_repeated_for_a_built_singleton():
    """A singleton's provider runs once however often it is asked for."""
    calls = []

    def make_settings() -> Settings:
        calls.append("settings")
        return Settings()

    container = Container(make_settings, Database, Api)

    container.get(Api)
    container.get(Database)
    container.get(Settings)

    assert calls == ["settings"]


def test_transient_is_new_on_every_get():
    """A transient is built anew for each resolution."""
    container = Container(registry_of(transient=[RequestId]))

    first = container.get(RequestId)
    second = container.get(RequestId)

    assert first is not second


def test_two_parameters_of_one_transient_type_get_two_instances():
    """Each parameter asking for a transient gets its own instance."""
    container = Container(registry_of(transient=[RequestId, Handler]))

    handler = container.get(Handler)

    assert isinstance(handler.first, RequestId)
    assert isinstance(handler.second, RequestId)
    assert handler.first is not handler.second


def test_transient_may_depend_on_a_singleton():
    """A transient receives the shared singleton and a fresh transient."""
    container = Container(
        registry_of(Settings, Database, transient=[RequestId, Session])
    )

    first = container.get(Session)
    second = container.get(Session)

    assert first is not second
    assert first.database is second.database is container.get(Database)
    assert first.request_id is not second.request_id


def test_transients_are_not_in_the_order():
    """Only singletons have a lifecycle, so only they are ordered."""
    container = Container(
        registry_of(Settings, Database, transient=[RequestId, Session])
    )

    assert container.order == [Settings, Database]


# Providers and the keys they make


def test_class_provider_receives_its_dependencies():
    """A class is called with an instance for each annotated parameter."""
    container = Container(Settings, Database, Api)

    api = container.get(Api)

    assert isinstance(api, Api)
    assert isinstance(api.database, Database)
    assert isinstance(api.database.settings, Settings)


def test_plain_factory_is_keyed_by_its_return_type():
    """A factory's return annotation is the key it provides."""
    container = Container(Settings, engine)

    made = container.get(Engine)

    assert isinstance(made, Engine)
    assert made.settings is container.get(Settings)


def test_generator_factory_is_keyed_by_the_yielded_type():
    """``-> Iterator[Pool]`` provides ``Pool``: the value yielded."""

    def pool(engine: Engine) -> Iterator[Pool]:
        yield Pool(engine)

    container = Container(Settings, engine, pool)

    made = container.get(Pool)

    assert isinstance(made, Pool)
    assert made.engine is container.get(Engine)


def test_generator_teardown_waits_for_stop():
    """The code after ``yield`` runs when the container stops, not before."""
    events = []

    def pool(engine: Engine) -> Iterator[Pool]:
        made = Pool(engine)
        events.append("opened")
        yield made
        made.is_closed = True
        events.append("closed")

    container = Container(Settings, engine, pool)
    made = container.get(Pool)
    before = list(events)

    container.stop()

    assert before == ["opened"]
    assert events == ["opened", "closed"]
    assert made.is_closed


def test_generator_teardown_runs_on_stop_of_a_never_started_container():
    """A factory built by ``get`` alone is still torn down by ``stop``."""
    closed = []

    def pool(engine: Engine) -> Iterator[Pool]:
        made = Pool(engine)
        yield made
        closed.append(made)

    container = Container(Settings, engine, pool)
    made = container.get(Pool)

    container.stop()

    assert closed == [made]


def test_unbuilt_generator_factory_is_not_run_by_stop():
    """Stopping does not build what nobody asked for just to tear it down."""
    events = []

    def pool(engine: Engine) -> Iterator[Pool]:
        events.append("opened")
        yield Pool(engine)
        events.append("closed")

    container = Container(Settings, engine, pool)
    container.get(Settings)

    container.stop()

    assert events == []


def test_async_generator_factory_is_keyed_by_the_yielded_type():
    """``-> AsyncIterator[Client]`` provides ``Client`` through ``aget``."""
    events = []

    async def client(settings: Settings) -> AsyncIterator[Client]:
        made = Client(settings)
        events.append("opened")
        yield made
        made.is_closed = True
        events.append("closed")

    async def scenario():
        container = Container(Settings, client)
        made = await container.aget(Client)
        again = await container.aget(Client)
        before = list(events)
        await container.astop()
        return made, again, before

    made, again, before = asyncio.run(scenario())

    assert made is again
    assert isinstance(made.settings, Settings)
    assert before == ["opened"]
    assert events == ["opened", "closed"]
    assert made.is_closed


def test_coroutine_factory_is_keyed_by_its_return_type():
    """An ``async def`` factory's return annotation is its key."""

    async def make_engine(settings: Settings) -> Engine:
        await asyncio.sleep(0)
        return Engine(settings)

    async def scenario():
        container = Container(Settings, make_engine)
        return container, await container.aget(Engine)

    container, made = asyncio.run(scenario())

    assert isinstance(made, Engine)
    assert made.settings is container.get(Settings)
    assert container.get(Engine) is made


def test_aget_builds_sync_services_too():
    """``aget`` is a full twin of ``get`` for ordinary providers."""

    async def scenario():
        container = Container(Settings, Database, Api)
        return container, await container.aget(Api)

    container, api = asyncio.run(scenario())

    assert api is container.get(Api)
    assert api.database is container.get(Database)


def test_aget_builds_a_transient_over_an_async_singleton():
    """A transient whose dependency is async is built by ``aget``."""

    async def make_engine(settings: Settings) -> Engine:
        return Engine(settings)

    class Query:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine

    registry = registry_of(Settings, make_engine, transient=[Query])

    async def scenario():
        container = Container(registry)
        return await container.aget(Query), await container.aget(Query)

    first, second = asyncio.run(scenario())

    assert first is not second
    assert first.engine is second.engine


def test_sync_get_works_once_async_services_are_built():
    """After ``aget`` has built it, an async-made singleton is plain data."""

    async def make_engine(settings: Settings) -> Engine:
        return Engine(settings)

    container = Container(Settings, make_engine)
    made = asyncio.run(container.aget(Engine))

    assert container.get(Engine) is made


def test_get_after_stop_is_a_state_error():
    """A stopped container builds nothing more."""
    container = Container(Settings, Database)
    container.get(Settings)
    container.stop()

    with pytest.raises(StateError) as caught:
        container.get(Database)

    assert str(caught.value) == (
        "cannot get Database: the container has stopped; build a new container"
    )


# provides=


def test_provides_binds_a_class_to_an_abstract_base():
    """``provides=`` makes an ABC the key of a concrete class."""
    registry = Registry()
    registry.service(Settings)
    registry.service(Database)
    registry.service(provides=Repository)(SqlRepository)
    container = Container(registry)

    repository = container.get(Repository)

    assert isinstance(repository, SqlRepository)
    assert repository.find() == "row"
    assert container.order == [Settings, Database, Repository]


def test_provides_binds_a_class_to_a_protocol():
    """``provides=`` makes a Protocol the key of a class that fits it."""
    registry = Registry()
    registry.service(provides=Greeter)(EnglishGreeter)
    container = Container(registry)

    greeter = container.get(Greeter)

    assert greeter.greet() == "hello"
    assert container.order == [Greeter]


def test_dependents_ask_for_the_abstract_key():
    """A parameter annotated with the ABC receives the bound class."""

    class Service:
        def __init__(self, repository: Repository) -> None:
            self.repository = repository

    registry = Registry()
    registry.service(provides=Repository)(SqlRepository)
    container = Container(Settings, Database, registry, Service)

    service = container.get(Service)

    assert service.repository is container.get(Repository)


def test_provides_on_a_factory():
    """A factory can be bound to an abstract key wider than its return."""

    def make_repository(database: Database) -> SqlRepository:
        return SqlRepository(database)

    registry = Registry()
    registry.service(provides=Repository)(make_repository)
    container = Container(Settings, Database, registry)

    assert isinstance(container.get(Repository), SqlRepository)


# Parameters: optional, defaults, annotations


def test_optional_dependency_is_none_when_unprovided():
    """``T | None = None`` receives ``None`` when nothing provides ``T``."""
    container = Container(Mailer)

    mailer = container.get(Mailer)

    assert mailer.cache is None


def test_optional_dependency_is_the_instance_when_provided():
    """``T | None = None`` receives the instance when ``T`` is provided."""
    container = Container(Cache, Mailer)

    mailer = container.get(Mailer)

    assert mailer.cache is container.get(Cache)


def test_default_applies_when_nothing_provides_the_type():
    """A typed parameter with a default keeps its default when unprovided."""
    container = Container(Settings, Retrying)

    retrying = container.get(Retrying)

    assert retrying.attempts == 3
    assert retrying.settings is container.get(Settings)


def test_provided_type_wins_over_the_default():
    """A provided type is injected even where a default exists."""

    class Timeouts:
        def __init__(self, settings: Settings | None = None) -> None:
            self.settings = settings

    container = Container(Settings, Timeouts)

    assert container.get(Timeouts).settings is container.get(Settings)


def test_unannotated_parameter_with_a_default_takes_the_default():
    """A parameter without annotation but with a default is left alone."""
    container = Container(Settings, Untyped)

    untyped = container.get(Untyped)

    assert untyped.label == "plain"
    assert untyped.settings is container.get(Settings)


def test_variadic_parameters_are_left_empty():
    """``*args`` and ``**kwargs`` are not dependencies."""
    container = Container(Settings, Flexible)

    flexible = container.get(Flexible)

    assert flexible.args == ()
    assert flexible.kwargs == {}


def test_string_annotations_are_evaluated():
    """Quoted annotations name types as well as bare ones do."""
    container = Container(Settings, Database, Cache, Quoted)

    quoted = container.get(Quoted)

    assert quoted.database is container.get(Database)
    assert quoted.cache is container.get(Cache)


def test_postponed_annotations_are_evaluated():
    """Under ``from __future__ import annotations`` dependencies resolve."""
    container = Container(future.Settings, future.Database, future.Api)

    api = container.get(future.Api)

    assert api.database is container.get(future.Database)
    assert api.database.settings is container.get(future.Settings)
    assert api.cache is None


def test_postponed_forward_reference_is_evaluated():
    """A postponed annotation may name a class defined further down."""
    container = Container(
        future.Settings, future.Database, future.Cache, future.Api
    )

    api = container.get(future.Api)

    assert api.cache is container.get(future.Cache)


def test_postponed_dataclass_fields_are_dependencies():
    """A dataclass under postponed annotations is wired by its fields."""
    container = Container(future.Settings, future.Database, future.Report)

    report = container.get(future.Report)

    assert report.database is container.get(future.Database)
    assert report.title == "daily"


def test_postponed_generator_factory_is_keyed_by_the_yielded_type():
    """A postponed ``Iterator[Pool]`` return still provides ``Pool``."""
    container = Container(future.Settings, future.Database, future.pool)

    made = container.get(future.Pool)
    database = container.get(future.Database)
    container.stop()

    assert made.database is database
    assert made.is_closed


def test_annotated_parameter_is_unwrapped():
    """``Annotated[T, ...]`` asks for ``T``."""
    container = Container(Settings, Tagged)

    tagged = container.get(Tagged)

    assert tagged.settings is container.get(Settings)


def test_annotated_key_is_unwrapped_by_get():
    """``get(Annotated[T, ...])`` returns the instance of ``T``."""
    container = Container(Settings)

    settings = container.get(Annotated[Settings, "primary"])

    assert settings is container.get(Settings)


def test_annotated_return_is_unwrapped():
    """A factory returning ``Annotated[T, ...]`` provides ``T``."""

    def make_settings() -> Annotated[Settings, "primary"]:
        return Settings()

    container = Container(make_settings)

    assert isinstance(container.get(Settings), Settings)
    assert container.order == [Settings]


def test_dataclass_is_a_service():
    """A dataclass is wired by its fields; fields with defaults keep them."""
    container = Container(Settings, Database, Report)

    report = container.get(Report)

    assert report.database is container.get(Database)
    assert report.title == "daily"


def test_positional_only_parameters_are_passed_by_position():
    """Parameters before ``/`` are filled in order."""
    container = Container(Settings, Database, PositionalOnly)

    positional = container.get(PositionalOnly)

    assert positional.settings is container.get(Settings)
    assert positional.database is container.get(Database)


def test_positional_only_default_before_an_injected_parameter():
    """A positional default ahead of an injected parameter is kept."""
    container = Container(Settings, PositionalDefaults)

    positional = container.get(PositionalDefaults)

    assert positional.retries == 3
    assert positional.settings is container.get(Settings)


def test_positional_only_defaults_alone_are_left_out():
    """With nothing to inject, positional-only defaults all apply."""
    container = Container(PositionalDefaults)

    positional = container.get(PositionalDefaults)

    assert positional.retries == 3
    assert positional.settings is None


def test_keyword_only_parameters_are_passed_by_name():
    """Parameters after ``*`` are filled by name, defaults kept."""
    container = Container(Settings, KeywordOnly)

    keyword_only = container.get(KeywordOnly)

    assert keyword_only.settings is container.get(Settings)
    assert keyword_only.retries == 3


def test_factory_parameters_are_wired_like_constructor_parameters():
    """Factories get positional-only and keyword-only arguments right."""

    def make_api(database: Database, /, *, label: str = "v1") -> Api:
        api = Api(database)
        api.label = label
        return api

    container = Container(Settings, Database, make_api)

    api = container.get(Api)

    assert api.database is container.get(Database)
    assert api.label == "v1"


# Other kinds of keys and providers


def test_new_type_is_a_key():
    """A ``NewType`` names a service of its own."""

    def user_id() -> UserId:
        return UserId(7)

    container = Container(user_id)

    assert container.get(UserId) == 7


def test_generic_aliases_are_distinct_keys():
    """``Box[int]`` and ``Box[str]`` are two services."""

    def int_box() -> Box[int]:
        return Box(1)

    def str_box() -> Box[str]:
        return Box("one")

    class Shelf:
        def __init__(self, numbers: Box[int], words: Box[str]) -> None:
            self.numbers = numbers
            self.words = words

    container = Container(int_box, str_box, Shelf)

    shelf = container.get(Shelf)

    assert shelf.numbers.content == 1
    assert shelf.words.content == "one"
    assert container.order == [Box[int], Box[str], Shelf]


def test_lambda_with_provides_is_a_provider():
    """A lambda cannot be annotated, but ``provides=`` gives it a key."""
    settings = Settings()
    registry = Registry()
    registry.service(provides=Settings)(lambda: settings)

    container = Container(registry)

    assert container.get(Settings) is settings


def test_class_with_its_own_new_is_wired_from_new():
    """A class built by ``__new__`` declares its needs there."""
    container = Container(Settings, Interned)

    interned = container.get(Interned)

    assert interned.settings is container.get(Settings)


def test_class_with_a_forwarding_metaclass_is_wired_from_init():
    """A metaclass ``__call__(*args, **kwargs)`` does not hide ``__init__``."""
    container = Container(Settings, Metered)

    metered = container.get(Metered)

    assert metered.settings is container.get(Settings)
    assert metered.made_by_metaclass


def test_optional_without_default_is_none_when_unprovided():
    """``T | None`` with no default is still optional."""

    class Notifier:
        def __init__(self, cache: Cache | None) -> None:
            self.cache = cache

    container = Container(Notifier)

    assert container.get(Notifier).cache is None


def test_transient_receives_defaults_and_optionals():
    """A transient is wired like a singleton: defaults, optionals, order."""

    class Line:
        def __init__(
            self,
            width: int = 80,
            settings: Settings | None = None,
            /,
            cache: Cache | None = None,
            *,
            request_id: RequestId,
        ) -> None:
            self.width = width
            self.settings = settings
            self.cache = cache
            self.request_id = request_id

    container = Container(Settings)
    container.register(RequestId, scope="transient")
    container.register(Line, scope="transient")

    first = container.get(Line)
    second = container.get(Line)

    assert first.width == 80
    assert first.settings is second.settings is container.get(Settings)
    assert first.cache is None
    assert first.request_id is not second.request_id


def test_union_parameter_with_a_default_keeps_the_default():
    """A union that names no single service is left to its default."""

    class Formatter:
        def __init__(
            self, settings: Settings, width: int | str | None = None
        ) -> None:
            self.settings = settings
            self.width = width

    container = Container(Settings, Formatter)

    assert container.get(Formatter).width is None


def test_container_subclass_may_extend_get():
    """A subclass that wraps ``get`` still resolves through ``super()``."""
    asked = []

    class Recording(Container):
        def get(self, key):
            asked.append(key)
            return super().get(key)

    container = Recording(Settings, Database)

    database = container.get(Database)

    assert database is container.get(Database)
    assert database.settings is container.get(Settings)
    assert asked == [Database, Database, Settings]
