"""Declaring providers: ``@service``, registries and what containers take.

What a decorator declares about a class follows that class into every
container, so tests that declare options use classes of their own.
"""

from abc import ABC, abstractmethod
from typing import Annotated, Protocol

import pytest

from mainspring import (
    Container,
    InvalidProviderError,
    Registry,
    StateError,
    default_registry,
    service,
)


class Settings:
    def __init__(self) -> None:
        self.dsn = "sqlite://"


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class RequestId:
    pass


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def engine(settings: Settings) -> Engine:
    return Engine(settings)


class Greeter(Protocol):
    def greet(self) -> str: ...


class EnglishGreeter:
    def greet(self) -> str:
        return "hello"


class Repository(ABC):
    @abstractmethod
    def find(self) -> str: ...


class SqlRepository(Repository):
    def find(self) -> str:
        return "row"


@pytest.fixture
def empty_default_registry():
    """Give the test an empty default registry, and put it back afterwards.

    Decorating with the bare ``@service`` changes process-wide state; the
    snapshot keeps such tests from leaking into each other.
    """
    saved = list(default_registry._declarations)
    default_registry._declarations.clear()
    yield default_registry
    default_registry._declarations[:] = saved


def providers_of(registry):
    return [declaration.provider for declaration in registry]


# The decorator and the default registry


def test_bare_service_returns_the_class_unchanged(empty_default_registry):
    """``@service`` hands back the very class it decorates."""

    class Clock:
        pass

    decorated = service(Clock)

    assert decorated is Clock


def test_service_with_options_returns_the_class_unchanged(
    empty_default_registry,
):
    """``@service(...)`` hands back the very class it decorates."""

    class Clock:
        pass

    decorated = service(scope="transient")(Clock)

    assert decorated is Clock


def test_service_returns_a_factory_unchanged(empty_default_registry):
    """Decorating a factory function leaves it callable as before."""

    def make_settings() -> Settings:
        return Settings()

    decorated = service(make_settings)

    assert decorated is make_settings
    assert isinstance(decorated(), Settings)


def test_bare_service_adds_the_class_to_the_default_registry(
    empty_default_registry,
):
    """The bare decorator records its class in ``default_registry``."""

    @service
    class Clock:
        pass

    assert providers_of(default_registry) == [Clock]


def test_service_with_options_adds_to_the_default_registry(
    empty_default_registry,
):
    """The decorator with options records its class and the options."""

    @service(scope="transient")
    class Clock:
        pass

    (declaration,) = list(default_registry)

    assert declaration.provider is Clock
    assert declaration.scope == "transient"


def test_container_without_providers_uses_the_default_registry(
    empty_default_registry,
):
    """``Container()`` resolves what the bare ``@service`` declared."""

    @service
    class Clock:
        pass

    @service
    class Scheduler:
        def __init__(self, clock: Clock) -> None:
            self.clock = clock

    container = Container()

    scheduler = container.get(Scheduler)

    assert scheduler.clock is container.get(Clock)
    assert container.order == [Clock, Scheduler]


def test_explicit_provider_keeps_options_declared_with_service(
    empty_default_registry,
):
    """``Container(cls)`` keeps the scope that ``@service(...)`` gave."""

    @service(scope="transient")
    class Ticket:
        pass

    container = Container(Ticket)

    assert container.get(Ticket) is not container.get(Ticket)


# A registry of one's own


def test_registry_service_returns_the_object_unchanged():
    """A registry's decorator also hands back what it decorates."""
    registry = Registry()

    class Ticket:
        pass

    decorated = registry.service(Settings)
    with_options = registry.service(scope="transient")(Ticket)

    assert decorated is Settings
    assert with_options is Ticket


def test_registry_service_fills_only_its_own_registry():
    """A registry's decorator leaves ``default_registry`` alone."""
    registry = Registry()
    before = providers_of(default_registry)

    registry.service(Settings)

    assert providers_of(registry) == [Settings]
    assert providers_of(default_registry) == before


def test_registry_keeps_declaration_order():
    """Providers are listed in the order they were declared."""
    registry = Registry()

    registry.service(Database)
    registry.service(Settings)
    registry.service(engine)

    assert providers_of(registry) == [Database, Settings, engine]
    assert len(registry) == 3
    assert repr(registry) == "<Registry: 3 providers>"


def test_registry_records_every_option():
    """The options given to the decorator are kept with the provider."""
    registry = Registry()

    class PoliteGreeter:
        def greet(self) -> str:
            return "good day"

    registry.service(provides=Greeter, start_timeout=2.0, stop_timeout=None)(
        PoliteGreeter
    )
    (declaration,) = list(registry)

    assert declaration.provides is Greeter
    assert declaration.scope == "singleton"
    assert declaration.start_timeout == 2.0
    assert declaration.stop_timeout is None


def test_unknown_scope_is_a_value_error():
    """A misspelt scope fails where it is written, naming both."""
    registry = Registry()

    with pytest.raises(ValueError, match=r"^scope of Settings") as caught:
        registry.service(scope="request")(Settings)

    assert str(caught.value) == (
        "scope of Settings must be 'singleton' or 'transient', not 'request'"
    )
    assert len(registry) == 0


def test_provides_that_is_not_a_type_is_a_type_error():
    """``provides=`` must name a type."""
    registry = Registry()

    with pytest.raises(TypeError) as caught:
        registry.service(provides=3)(Settings)

    assert str(caught.value) == "provides=3 for Settings is not a type"


# Building containers


def test_container_takes_the_providers_of_a_registry():
    """``Container(registry)`` knows every provider in the registry."""
    registry = Registry()
    registry.service(Settings)
    registry.service(Database)

    container = Container(registry)

    assert container.get(Database).settings is container.get(Settings)


def test_container_joins_registries_and_providers_in_order():
    """Registries and loose providers are taken in the order given."""
    first = Registry()
    first.service(Database)
    second = Registry()
    second.service(EnglishGreeter)

    container = Container(first, RequestId, second, Settings)

    # Database waits for Settings; the others are placed as registered.
    assert container.order == [RequestId, EnglishGreeter, Settings, Database]


def test_container_of_explicit_providers_builds_them():
    """``Container(A, B, factory)`` uses exactly the providers passed."""
    container = Container(Settings, Database, engine)

    database = container.get(Database)
    made = container.get(Engine)

    assert database.settings is made.settings
    assert container.order == [Settings, Database, Engine]


def test_explicit_class_keeps_the_scope_its_registry_declared():
    """A class declared transient in any registry stays transient."""

    class Ticket:
        pass

    Registry().service(scope="transient")(Ticket)

    container = Container(Ticket)

    assert container.get(Ticket) is not container.get(Ticket)
    assert container.order == []


def test_explicit_class_keeps_the_key_its_registry_declared():
    """A class declared with ``provides=`` is found under that key."""

    class PoliteGreeter:
        def greet(self) -> str:
            return "hello"

    Registry().service(provides=Greeter)(PoliteGreeter)

    container = Container(PoliteGreeter)

    assert container.get(Greeter).greet() == "hello"
    assert container.order == [Greeter]


def test_explicit_factory_keeps_the_key_its_registry_declared():
    """A factory declared with ``provides=`` is found under that key."""

    def make_repository() -> SqlRepository:
        return SqlRepository()

    Registry().service(provides=Repository)(make_repository)

    container = Container(make_repository)

    assert container.get(Repository).find() == "row"


def test_undeclared_class_is_a_singleton_under_its_own_key():
    """A class never decorated is a singleton keyed by itself."""

    class Clock:
        pass

    container = Container(Clock)

    assert container.get(Clock) is container.get(Clock)
    assert container.order == [Clock]


def test_same_declaration_twice_counts_once():
    """A provider passed twice with the same options is one provider."""
    registry = Registry()
    registry.service(Settings)

    container = Container(registry, Settings, registry)

    assert container.order == [Settings]


# register and register_instance


def test_register_adds_a_class_before_first_use():
    """``register`` completes a graph until the container is first used."""
    container = Container(Database)

    container.register(Settings)

    assert isinstance(container.get(Database).settings, Settings)


def test_register_takes_provides_and_scope():
    """``register`` accepts the same options as the decorator."""
    container = Container(Registry())

    class Ticket:
        pass

    container.register(SqlRepository, provides=Repository)
    container.register(Ticket, scope="transient")

    assert container.get(Repository).find() == "row"
    assert container.get(Ticket) is not container.get(Ticket)
    assert container.order == [Repository]


def test_register_keeps_declared_options_left_out():
    """Options not given to ``register`` are those of ``@service``."""

    class PoliteGreeter:
        def greet(self) -> str:
            return "hello"

    Registry().service(provides=Greeter)(PoliteGreeter)
    container = Container(Registry())

    container.register(PoliteGreeter)

    assert container.get(Greeter).greet() == "hello"


def test_register_options_win_over_declared_ones():
    """Options given to ``register`` replace the declared ones."""

    class Ticket:
        pass

    Registry().service(scope="transient")(Ticket)
    container = Container(Registry())

    container.register(Ticket, scope="singleton")

    assert container.get(Ticket) is container.get(Ticket)


def test_register_factory():
    """``register`` takes factory functions too, keyed by their return."""
    container = Container(Settings)

    container.register(engine)

    assert isinstance(container.get(Engine), Engine)


def test_register_instance_is_what_get_returns():
    """A registered object is handed out itself, never copied or rebuilt."""
    settings = Settings()
    container = Container(Database)

    container.register_instance(settings)

    assert container.get(Settings) is settings
    assert container.get(Database).settings is settings


def test_register_instance_under_provides():
    """``register_instance(obj, provides=Base)`` binds ``obj`` to ``Base``."""
    repository = SqlRepository()
    container = Container(Registry())

    container.register_instance(repository, provides=Repository)

    assert container.get(Repository) is repository


def test_register_instance_under_annotated_provides():
    """``provides=Annotated[T, ...]`` binds the object to ``T``."""
    repository = SqlRepository()
    container = Container(Registry())

    container.register_instance(
        repository, provides=Annotated[Repository, "primary"]
    )

    assert container.get(Repository) is repository


def test_register_instance_is_a_service_in_the_order():
    """A registered object is a singleton like any other, in start order."""
    container = Container(Database)

    container.register_instance(Settings())

    assert container.order == [Settings, Database]


def test_register_after_get_is_a_state_error():
    """Once the container is used, its providers are fixed."""
    container = Container(Settings)
    container.get(Settings)

    with pytest.raises(StateError) as caught:
        container.register(Database)

    assert str(caught.value) == (
        "cannot register Database: the container is already in use; "
        "register every provider before the first get(), order, start() "
        "or with"
    )


def test_register_after_order_is_a_state_error():
    """Reading ``order`` is a first use too."""
    container = Container(Settings)
    assert container.order == [Settings]

    with pytest.raises(StateError) as caught:
        container.register(Database)

    assert str(caught.value).startswith("cannot register Database: ")


def test_register_instance_after_first_use_is_a_state_error():
    """Objects cannot be added after first use either."""
    container = Container(Database, Settings)
    container.get(Database)

    with pytest.raises(StateError) as caught:
        container.register_instance(RequestId())

    assert str(caught.value).startswith("cannot register <")
    assert "the container is already in use" in str(caught.value)


# Timeouts


@pytest.mark.parametrize("value", [0, -1.5, True, "5"])
def test_service_timeout_must_be_a_positive_number_or_none(value):
    """A timeout that is not a positive number of seconds is refused."""
    registry = Registry()

    with pytest.raises(ValueError, match=r"^start_timeout of ") as caught:
        registry.service(start_timeout=value)(Settings)

    assert str(caught.value) == (
        "start_timeout of Settings must be a positive number of seconds or "
        f"None, not {value!r}"
    )
    assert len(registry) == 0


@pytest.mark.parametrize("name", ["start_timeout", "stop_timeout"])
def test_container_timeout_must_be_a_positive_number_or_none(name):
    """The container checks its own timeouts the same way."""
    with pytest.raises(ValueError, match=rf"^{name} of ") as caught:
        Container(Settings, **{name: -1})

    assert str(caught.value) == (
        f"{name} of Container must be a positive number of seconds or None, "
        "not -1"
    )


def test_container_timeouts_may_be_unlimited():
    """``None`` means no limit, for the container as for a service."""
    container = Container(Settings, start_timeout=None, stop_timeout=None)

    assert container.start_timeout is None
    assert container.stop_timeout is None


class Named(Protocol):
    name: str

    def rename(self, name: str) -> None: ...

    @classmethod
    def blank(cls) -> "Named": ...


class Person:
    def __init__(self) -> None:
        self.name = "ada"

    def rename(self, name: str) -> None:
        self.name = name

    @classmethod
    def blank(cls) -> "Person":
        return cls()


class Nameless:
    def rename(self, name: str) -> None:
        pass


def test_a_class_that_implements_a_protocol_may_provide_it():
    """Structural is enough: no subclassing, data members set in __init__."""
    registry = Registry()
    registry.service(provides=Named)(Person)

    named = Container(registry).get(Named)

    assert isinstance(named, Person)


def test_a_class_lacking_a_protocol_method_is_refused():
    """Every missing method is named, in alphabetical order."""
    registry = Registry()
    registry.service(provides=Named)(Nameless)

    with pytest.raises(InvalidProviderError) as caught:
        Container(registry).order  # noqa: B018

    assert str(caught.value) == (
        "Nameless is registered with provides=Named but Nameless lacks "
        "blank(), which Named declares"
    )


def test_an_instance_must_carry_the_protocol_data_members_too():
    """A ready object is checked for every member, attributes included."""
    container = Container(Registry())

    class Bare:
        pass

    with pytest.raises(InvalidProviderError) as caught:
        container.register_instance(Bare(), provides=Named)

    assert str(caught.value) == (
        "an instance of test_an_instance_must_carry_the_protocol_data_"
        "members_too.<locals>.Bare is registered with provides=Named but "
        "lacks blank(), name and rename(), which Named declares"
    )
    container.register_instance(Person(), provides=Named)
    assert container.get(Named).name == "ada"
