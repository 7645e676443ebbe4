"""Validation of the graph on first use: every error, and the start order.

Each broken graph below also holds services whose constructors write
themselves down in ``BUILT``; the error must come before any of them runs.
"""

import asyncio
import logging
import os
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import _future_services as future
import mainspring
from mainspring import (
    CircularDependencyError,
    Container,
    DuplicateServiceError,
    InvalidProviderError,
    MainspringError,
    MissingDependencyError,
    Registry,
    ScopeError,
    StateError,
    UnknownServiceError,
)

BUILT: list[type] = []


@pytest.fixture(autouse=True)
def _forget_builds():
    BUILT.clear()
    yield
    BUILT.clear()


class Recorded:
    def __init__(self) -> None:
        BUILT.append(type(self))


class Clock(Recorded):
    pass


class Settings(Recorded):
    pass


class Database(Recorded):
    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings


class FakeDatabase(Database):
    pass


class Api(Recorded):
    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database


class A(Recorded):
    def __init__(self, b: "B") -> None:
        super().__init__()


class B(Recorded):
    def __init__(self, a: A) -> None:
        super().__init__()


class Top(Recorded):
    def __init__(self, a: A) -> None:
        super().__init__()


class Selfish(Recorded):
    def __init__(self, me: "Selfish") -> None:
        super().__init__()


class RequestId(Recorded):
    pass


class Session(Recorded):
    def __init__(self, request_id: RequestId) -> None:
        super().__init__()


class Gateway(Recorded):
    def __init__(self, session: Session) -> None:
        super().__init__()


class Databse:
    """Not registered anywhere: a typo of ``Database``."""


class Unrelated:
    pass


class Client:
    pass


async def client() -> Client:
    return Client()


class Consumer(Recorded):
    def __init__(self, settings: Settings, client: Client) -> None:
        super().__init__()


class Query(Recorded):
    def __init__(self, settings: Settings, client: Client) -> None:
        super().__init__()


class Token:
    pass


async def token() -> Token:
    return Token()


# Providers that cannot be used, one defect each.


class Unannotated(Recorded):
    def __init__(self, value) -> None:
        super().__init__()


class NumberAnnotated(Recorded):
    def __init__(self, value: 42) -> None:  # type: ignore[valid-type]
        super().__init__()


class UnionAnnotated(Recorded):
    def __init__(self, value: int | str) -> None:
        super().__init__()


class Dangling(Recorded):
    def __init__(self, value: "Nowhere") -> None:  # noqa: F821
        super().__init__()


def unannotated_factory():
    return Clock()


def number_factory() -> 42:  # type: ignore[valid-type]
    return 42


def mislabelled_generator() -> Clock:
    yield Clock()


def pool() -> Iterator[Clock]:
    yield Clock()


class Repository(ABC):
    @abstractmethod
    def find(self) -> str: ...


class BrokenAnnotation(Recorded):
    def __init__(self, value: "list[int") -> None:  # noqa: F722
        super().__init__()


def never_yields() -> Iterator[Token]:
    return
    yield Token()


async def never_yields_async() -> AsyncIterator[Token]:
    return
    yield Token()


INVALID_PROVIDERS = [
    pytest.param(
        Unannotated,
        "parameter 'value' of Unannotated has neither a type annotation nor "
        "a default",
        id="parameter-without-annotation-or-default",
    ),
    pytest.param(
        NumberAnnotated,
        "parameter 'value' of NumberAnnotated is annotated with 42, which is "
        "not a type that can name a service; give it a default, or annotate "
        "it with a class",
        id="annotation-is-not-a-type",
    ),
    pytest.param(
        UnionAnnotated,
        "parameter 'value' of UnionAnnotated is annotated with int | str, "
        "which is not a type that can name a service; give it a default, or "
        "annotate it with a class",
        id="annotation-is-a-union",
    ),
    pytest.param(
        Dangling,
        "cannot resolve the annotation 'Nowhere' of parameter 'value' of "
        f"Dangling: name 'Nowhere' is not defined in module {__name__}; is "
        "it imported only under TYPE_CHECKING, or defined inside a function?",
        id="forward-reference-naming-nothing",
    ),
    pytest.param(
        unannotated_factory,
        "factory unannotated_factory has no return annotation; annotate what "
        "it makes, or pass provides=",
        id="factory-without-return-annotation",
    ),
    pytest.param(
        lambda: None,
        "factory <lambda> has no return annotation; annotate what it makes, "
        "or pass provides=",
        id="lambda",
    ),
    pytest.param(
        number_factory,
        "factory number_factory returns 42, which is not a type that can "
        "name a service",
        id="factory-returning-a-non-type",
    ),
    pytest.param(
        mislabelled_generator,
        "generator factory mislabelled_generator must be annotated as "
        "returning Iterator[T], not Clock",
        id="generator-not-annotated-as-iterator",
    ),
    pytest.param(
        Repository,
        "Repository is abstract and cannot be built; register a concrete "
        "class with provides=",
        id="abstract-class-without-provides",
    ),
]


def assert_nothing_built():
    assert BUILT == []


# MissingDependencyError


def test_missing_dependency_names_the_path_from_the_requested_key():
    """The message shows who needs the missing type, from what was asked."""
    container = Container(Clock, Database, Api)

    with pytest.raises(MissingDependencyError) as caught:
        container.get(Api)

    assert str(caught.value) == (
        "no provider for Settings (needed by Api -> Database -> Settings)"
    )
    assert caught.value.key is Settings
    assert caught.value.path == [Api, Database, Settings]
    assert_nothing_built()


def test_missing_dependency_is_found_from_the_top_without_a_request():
    """Validated through ``order``, the path starts at a top service."""
    container = Container(Clock, Database, Api)

    with pytest.raises(MissingDependencyError) as caught:
        _ = container.order

    assert str(caught.value) == (
        "no provider for Settings (needed by Api -> Database -> Settings)"
    )
    assert caught.value.path == [Api, Database, Settings]


def test_missing_dependency_fails_even_a_request_that_does_not_need_it():
    """The whole graph is validated, not only what the request reaches."""
    container = Container(Clock, Database, Api)

    with pytest.raises(MissingDependencyError) as caught:
        container.get(Clock)

    assert caught.value.path == [Api, Database, Settings]
    assert_nothing_built()


def test_register_may_complete_the_graph_before_first_use():
    """A graph missing a provider is fine until it is first used."""
    container = Container(Clock, Database, Api)

    container.register(Settings)
    api = container.get(Api)

    assert isinstance(api.database.settings, Settings)


# CircularDependencyError


def test_cycle_is_reported_with_its_keys():
    """A cycle is shown from its earliest registered key, back to it."""
    container = Container(Clock, A, B)

    with pytest.raises(CircularDependencyError) as caught:
        container.get(A)

    assert str(caught.value) == "circular dependency: A -> B -> A"
    assert caught.value.cycle == [A, B, A]
    assert_nothing_built()


def test_cycle_starts_at_its_earliest_registered_key():
    """Registration order decides where the reported cycle begins."""
    container = Container(Clock, B, A)

    with pytest.raises(CircularDependencyError) as caught:
        _ = container.order

    assert str(caught.value) == "circular dependency: B -> A -> B"
    assert caught.value.cycle == [B, A, B]


def test_cycle_below_the_requested_key_shows_only_the_cycle():
    """Services that lead into a cycle are not part of it."""
    container = Container(Top, A, B)

    with pytest.raises(CircularDependencyError) as caught:
        container.get(Top)

    assert str(caught.value) == "circular dependency: A -> B -> A"
    assert caught.value.cycle == [A, B, A]
    assert_nothing_built()


def test_self_dependency_is_a_cycle():
    """A provider that needs its own key is a cycle of one."""
    container = Container(Clock, Selfish)

    with pytest.raises(CircularDependencyError) as caught:
        container.get(Clock)

    assert str(caught.value) == "circular dependency: Selfish -> Selfish"
    assert caught.value.cycle == [Selfish, Selfish]
    assert_nothing_built()


# DuplicateServiceError


def test_two_providers_for_one_key_are_a_duplicate():
    """Two different providers of one key are refused, naming both."""
    container = Container(Clock, Settings, Database)
    container.register(FakeDatabase, provides=Database)

    with pytest.raises(DuplicateServiceError) as caught:
        container.get(Clock)

    assert str(caught.value) == (
        "Database is provided twice: by Database and by FakeDatabase; "
        "replace a provider with overrides= or container.override()"
    )
    assert caught.value.key is Database
    assert caught.value.providers == [Database, FakeDatabase]
    assert_nothing_built()


def test_the_same_class_with_other_options_is_a_duplicate():
    """One class declared twice with different scopes is ambiguous."""
    container = Container(Clock, Settings)
    container.register(Settings, scope="transient")

    with pytest.raises(DuplicateServiceError) as caught:
        container.get(Clock)

    assert caught.value.key is Settings
    assert_nothing_built()


# UnknownServiceError


def test_unknown_key_suggests_close_names():
    """A typo is answered with the registered names it resembles."""
    container = Container(Clock, Settings, Database)

    with pytest.raises(UnknownServiceError) as caught:
        container.get(Databse)

    assert str(caught.value) == (
        "no service Databse is registered; closest: Database"
    )
    assert caught.value.key is Databse
    assert caught.value.suggestions == [Database]
    assert_nothing_built()


def test_unknown_key_without_close_names():
    """Without a resembling name the message names only the key."""
    container = Container(Clock, Settings)

    with pytest.raises(UnknownServiceError) as caught:
        container.get(Unrelated)

    assert str(caught.value) == "no service Unrelated is registered"
    assert caught.value.suggestions == []


def test_unknown_key_with_the_same_name_is_told_apart_by_module():
    """Two types of one name are shown with their modules."""
    container = Container(future.Settings)

    with pytest.raises(UnknownServiceError) as caught:
        container.get(Settings)

    assert str(caught.value) == (
        f"no service {__name__}.Settings is registered; closest: "
        "_future_services.Settings"
    )
    assert caught.value.suggestions == [future.Settings]


def test_unknown_generic_alias_suggests_its_siblings():
    """Generic aliases are named with their arguments."""

    def databases() -> list[Database]:
        return []

    container = Container(databases)

    with pytest.raises(UnknownServiceError) as caught:
        container.get(list[Databse])

    assert str(caught.value) == (
        "no service list[Databse] is registered; closest: list[Database]"
    )
    assert caught.value.suggestions == [list[Database]]


def test_unknown_service_error_is_a_lookup_error():
    """Code that catches ``LookupError`` also catches an unknown key."""
    container = Container(Settings)

    with pytest.raises(LookupError) as caught:
        container.get(Unrelated)

    assert isinstance(caught.value, UnknownServiceError)
    assert isinstance(caught.value, MainspringError)


def test_aget_of_an_unknown_key_is_an_unknown_service_error():
    """``aget`` refuses unknown keys the same way."""
    container = Container(Clock, Settings, Database)

    with pytest.raises(UnknownServiceError) as caught:
        asyncio.run(container.aget(Databse))

    assert str(caught.value) == (
        "no service Databse is registered; closest: Database"
    )


# InvalidProviderError


@pytest.mark.parametrize(("provider", "message"), INVALID_PROVIDERS)
def test_invalid_provider_is_refused_on_first_use(provider, message):
    """A provider that cannot be used fails validation, saying why."""
    container = Container(Clock, provider)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Clock)

    assert str(caught.value) == message
    assert caught.value.provider is provider
    assert_nothing_built()


@pytest.mark.parametrize("provider", [42, "Clock", None])
def test_non_callable_provider_is_refused_at_once(provider):
    """An object that is neither class nor function is no provider."""
    with pytest.raises(InvalidProviderError) as caught:
        Container(Clock, provider)

    assert str(caught.value) == (
        f"{provider!r} is neither a class nor a function, so it cannot "
        "provide a service; use register_instance() for a ready object"
    )
    assert caught.value.provider == provider


def test_register_of_a_non_callable_is_refused_at_once():
    """``register`` checks its argument before storing it."""
    container = Container(Clock)

    with pytest.raises(InvalidProviderError) as caught:
        container.register(Clock())

    assert str(caught.value).endswith(
        "is neither a class nor a function, so it cannot provide a service; "
        "use register_instance() for a ready object"
    )


def test_class_without_a_readable_signature_is_refused():
    """A class whose parameters cannot be read is named in the error."""
    container = Container(Clock, int)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Clock)

    assert str(caught.value).startswith("cannot read the signature of int: ")
    assert caught.value.provider is int
    assert_nothing_built()


def test_annotation_that_does_not_parse_is_refused():
    """An annotation string that is no expression is named with its owner."""
    container = Container(Clock, BrokenAnnotation)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Clock)

    assert str(caught.value).startswith(
        "cannot evaluate the annotation 'list[int' of 'value' in "
        "BrokenAnnotation: "
    )
    assert_nothing_built()


def test_generator_factory_that_never_yields_is_refused_when_built():
    """A generator that ends without a value has nothing to provide."""
    container = Container(never_yields)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Token)
    with pytest.raises(InvalidProviderError) as again:
        container.get(Token)

    assert str(caught.value) == (
        "generator factory never_yields for Token returned without yielding "
        "a value"
    )
    assert str(again.value) == str(caught.value)


def test_async_generator_factory_that_never_yields_is_refused_when_built():
    """The same holds for an async generator factory."""
    container = Container(never_yields_async)

    with pytest.raises(InvalidProviderError) as caught:
        asyncio.run(container.aget(Token))

    assert str(caught.value) == (
        "generator factory never_yields_async for Token returned without "
        "yielding a value"
    )


class NeedsUnion(Recorded):
    def __init__(self, value: UnionAnnotated) -> None:
        super().__init__()


class NeedsDangling(Recorded):
    def __init__(self, value: Dangling) -> None:
        super().__init__()


class Report(Recorded):
    def __init__(self, needs: NeedsUnion) -> None:
        super().__init__()


def test_invalid_dependency_shows_the_path_before_the_hint():
    """A bad provider deep in the graph is placed on the requested path."""
    container = Container(Report, NeedsUnion, UnionAnnotated)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Report)

    assert str(caught.value) == (
        "parameter 'value' of UnionAnnotated is annotated with int | str, "
        "which is not a type that can name a service (needed by Report -> "
        "NeedsUnion -> UnionAnnotated); give it a default, or annotate it "
        "with a class"
    )
    assert caught.value.path == [Report, NeedsUnion, UnionAnnotated]
    assert caught.value.reason.startswith("parameter 'value' of ")
    assert (
        caught.value.hint == "give it a default, or annotate it with a class"
    )
    assert_nothing_built()


def test_invalid_dependency_found_by_order_shows_a_path_from_a_root():
    """Without a requested key, the path starts at a service needing it."""
    container = Container(Clock, Report, NeedsUnion, UnionAnnotated)

    with pytest.raises(InvalidProviderError) as caught:
        container.order  # noqa: B018

    assert caught.value.path == [Report, NeedsUnion, UnionAnnotated]


def test_invalid_provider_asked_for_itself_has_no_path():
    """Asking for the bad provider directly needs no path in the message."""
    container = Container(NeedsUnion, UnionAnnotated)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(UnionAnnotated)

    assert caught.value.path == []
    assert "needed by" not in str(caught.value)


def test_unresolved_dependency_keeps_its_cause_and_gains_a_path():
    """The NameError behind an unresolved annotation stays chained."""
    container = Container(NeedsDangling, Dangling)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(NeedsDangling)

    assert caught.value.path == [NeedsDangling, Dangling]
    assert isinstance(caught.value.__cause__, NameError)
    assert str(caught.value).endswith(
        "(needed by NeedsDangling -> Dangling); is it imported only under "
        "TYPE_CHECKING, or defined inside a function?"
    )


def test_factory_whose_key_cannot_be_told_has_no_path():
    """A factory without a return annotation provides no known key."""
    container = Container(Clock, unannotated_factory)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Clock)

    assert caught.value.path == []


def test_invalid_provider_error_is_a_type_error():
    """Code that catches ``TypeError`` also catches a bad provider."""
    container = Container(Unannotated)

    with pytest.raises(TypeError) as caught:
        container.get(Unannotated)

    assert isinstance(caught.value, InvalidProviderError)


def test_provides_must_be_a_base_of_the_class():
    """A class bound to a key it does not implement is refused."""
    container = Container(Clock)
    container.register(Clock, provides=Settings)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Settings)

    assert str(caught.value) == (
        "Clock is registered with provides=Settings but Clock is not a "
        "subclass of Settings"
    )
    assert_nothing_built()


def test_generator_factory_cannot_be_transient():
    """A teardown needs a lifecycle, which transients do not have."""
    container = Container(Registry())
    container.register(pool, scope="transient")

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Clock)

    assert str(caught.value) == (
        "generator factory pool cannot be transient: its teardown needs a "
        "lifecycle, which only singletons have"
    )


def test_abstract_class_with_provides_is_still_refused():
    """``provides=`` does not make an abstract class buildable."""
    container = Container(Registry())
    container.register(Repository, provides=Repository)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Repository)

    assert str(caught.value) == (
        "Repository is abstract and cannot be built; register a concrete "
        "class with provides="
    )


# ScopeError


def test_singleton_depending_on_a_transient_is_a_scope_error():
    """A singleton would keep one transient forever, so it is refused."""
    container = Container(Clock, Session, Gateway)
    container.register(RequestId, scope="transient")

    with pytest.raises(ScopeError) as caught:
        container.get(Gateway)

    assert str(caught.value) == (
        "singleton Session depends on transient RequestId (Gateway -> "
        "Session -> RequestId); a singleton would keep one transient "
        "instance forever"
    )
    assert caught.value.path == [Gateway, Session, RequestId]
    assert_nothing_built()


def test_scope_error_without_a_request_starts_at_a_top_service():
    """Validated through ``order``, the path starts at a top service."""
    container = Container(Clock, Session, Gateway)
    container.register(RequestId, scope="transient")

    with pytest.raises(ScopeError) as caught:
        _ = container.order

    assert caught.value.path == [Gateway, Session, RequestId]


def test_scope_error_path_starts_at_the_requested_service():
    """The path runs from the service asked for, not an earlier dependent."""

    class Console(Recorded):
        def __init__(self, session: Session) -> None:
            super().__init__()

    container = Container(Clock, Session, Console, Gateway)
    container.register(RequestId, scope="transient")

    with pytest.raises(ScopeError) as caught:
        container.get(Gateway)

    assert caught.value.path == [Gateway, Session, RequestId]


def test_transient_may_depend_on_a_transient_and_a_singleton():
    """Only singleton-over-transient is refused."""
    container = Container(Clock)
    container.register(RequestId, scope="transient")
    container.register(Session, scope="transient")

    first = container.get(Session)

    assert first is not container.get(Session)


# TypeError and StateError from get


@pytest.mark.parametrize("key", [3, "Settings", None])
def test_get_of_a_value_that_is_not_a_type_is_a_type_error(key):
    """``get`` names the value it cannot take as a key."""
    container = Container(Clock, Settings)

    with pytest.raises(TypeError) as caught:
        container.get(key)

    assert str(caught.value) == (
        f"{key!r} is not a type; a service is asked for by its class, its "
        "Protocol or abstract base, or a generic alias of a class"
    )
    assert not isinstance(caught.value, UnknownServiceError)
    assert_nothing_built()


def test_aget_of_a_value_that_is_not_a_type_is_a_type_error():
    """``aget`` checks its key the same way."""
    container = Container(Clock)

    with pytest.raises(TypeError) as caught:
        asyncio.run(container.aget(3))

    assert str(caught.value).startswith("3 is not a type; ")


def test_sync_get_of_an_async_factory_points_to_aget():
    """A coroutine factory cannot be awaited by ``get``; it says what to do."""
    container = Container(Clock, client)

    with pytest.raises(StateError) as caught:
        container.get(Client)

    assert str(caught.value) == (
        "Client is made by an async factory; use "
        "'await container.aget(Client)', or start the container first so "
        "that it is already built"
    )


def test_sync_get_reaching_an_async_dependency_builds_nothing():
    """The async factory is found before any sync dependency is built."""
    container = Container(Clock, Settings, client, Consumer)

    with pytest.raises(StateError) as caught:
        container.get(Consumer)

    assert str(caught.value) == (
        "Client (needed by Consumer) is made by an async factory; use "
        "'await container.aget(Consumer)', or start the container first so "
        "that it is already built"
    )
    assert_nothing_built()


def test_sync_get_of_a_transient_over_an_async_singleton_builds_nothing():
    """A transient's async singleton dependency is found up front too."""
    container = Container(Clock, Settings, client)
    container.register(Query, scope="transient")

    with pytest.raises(StateError) as caught:
        container.get(Query)

    assert str(caught.value) == (
        "Client (needed by Query) is made by an async factory; use "
        "'await container.aget(Query)', or start the container first so "
        "that it is already built"
    )
    assert_nothing_built()


def test_sync_get_of_an_async_transient_points_to_aget_only():
    """Starting never builds a transient, so the hint is ``aget`` alone."""
    container = Container(Clock)
    container.register(token, scope="transient")

    with pytest.raises(StateError) as caught:
        container.get(Token)

    assert str(caught.value) == (
        "Token is made by an async factory; use 'await container.aget(Token)'"
    )


def test_state_error_is_a_runtime_error():
    """Code that catches ``RuntimeError`` also catches a state error."""
    assert issubclass(StateError, RuntimeError)


# Start order


def test_order_is_the_registration_order_when_it_respects_dependencies():
    """Nothing moves when every dependency is already registered first."""
    container = Container(Clock, Settings, Database, Api)

    assert container.order == [Clock, Settings, Database, Api]


def test_dependency_registered_later_comes_first():
    """A service waits for its dependencies; ready ones go by registration."""
    container = Container(Api, Clock, Database, Settings)

    # Clock and Settings are ready at once and Clock was registered first;
    # Database becomes ready after Settings, and Api after Database.
    assert container.order == [Clock, Settings, Database, Api]


def test_service_that_becomes_ready_goes_by_its_registration_index():
    """Once its dependencies are placed, an early service jumps the queue.

    Database is registered first but must wait for Settings; as soon as
    Settings is placed it goes ahead of Clock, which was ready all along
    but registered after it.
    """
    container = Container(Database, Settings, Clock)

    assert container.order == [Settings, Database, Clock]


def test_computed_order_is_logged_at_debug_level(caplog):
    """Validation logs the start order it computed, once."""
    container = Container(Clock, Settings, Database)

    with caplog.at_level(logging.DEBUG, logger="mainspring"):
        _ = container.order
        _ = container.order

    orders = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("start order: ")
    ]
    assert orders == ["start order: Clock -> Settings -> Database"]


def test_reading_the_order_builds_nothing():
    """Validating and sorting the graph does not construct services."""
    container = Container(Clock, Settings, Database, Api)

    _ = container.order

    assert_nothing_built()


ORDER_SCRIPT = """
import mainspring

class Named(type):
    # Hash by name, so that the seed changes every set and hash ordering.
    def __hash__(cls):
        return hash(cls.__name__)

SPEC = [
    ("Api", ["Database", "Cache"]),
    ("Metrics", []),
    ("Database", ["Settings"]),
    ("Cache", ["Settings"]),
    ("Settings", []),
    ("Worker", ["Queue", "Database"]),
    ("Queue", ["Settings"]),
    ("Mailer", []),
    ("Scheduler", ["Worker", "Metrics"]),
    ("Audit", ["Database"]),
]
classes = {"Named": Named}
pending = dict(SPEC)
while pending:
    for name, deps in list(pending.items()):
        if all(dep in classes for dep in deps):
            params = "".join(f", {dep.lower()}: {dep}" for dep in deps)
            exec(
                f"class {name}(metaclass=Named):\\n"
                f"    def __init__(self{params}) -> None:\\n"
                f"        pass\\n",
                classes,
            )
            del pending[name]
container = mainspring.Container(*(classes[name] for name, _ in SPEC))
print(" ".join(key.__name__ for key in container.order))
"""


def order_under_seed(seed):
    source = str(Path(mainspring.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONHASHSEED": seed,
        "PYTHONPATH": os.pathsep.join(filter(None, [source, path])),
    }
    done = subprocess.run(
        [sys.executable, "-c", ORDER_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.split()


def test_order_is_the_same_under_any_hash_seed():
    """Two processes with different hash seeds sort the graph alike."""
    expected = [
        "Metrics",
        "Settings",
        "Database",
        "Cache",
        "Api",
        "Queue",
        "Worker",
        "Mailer",
        "Scheduler",
        "Audit",
    ]

    under_zero = order_under_seed("0")
    under_one = order_under_seed("1")

    assert under_zero == expected
    assert under_one == expected


# Depth


CHAIN_LENGTH = 10_000


def chain_of_classes(length):
    """Classes ``Link0`` to ``Link{length-1}``, each needing the one before."""
    links = []
    for index in range(length):
        if links:

            def init(self, previous):
                self.previous = previous

            init.__annotations__ = {"previous": links[-1], "return": None}
        else:

            def init(self):
                self.previous = None

        links.append(type(f"Link{index}", (), {"__init__": init}))
    return links


def depth_of(instance):
    depth = 0
    while instance.previous is not None:
        instance = instance.previous
        depth += 1
    return depth


def test_long_singleton_chain_validates_and_resolves():
    """A 10,000-deep chain of singletons needs no recursion."""
    links = chain_of_classes(CHAIN_LENGTH)
    container = Container(*links)

    order = container.order
    last = container.get(links[-1])

    assert order == links
    assert depth_of(last) == CHAIN_LENGTH - 1
    assert container.get(links[0]) is not None
    assert last.previous is container.get(links[-2])


def test_long_chain_registered_backwards_is_sorted():
    """Registered in reverse, a deep chain is still ordered deps first."""
    links = chain_of_classes(CHAIN_LENGTH)
    container = Container(*reversed(links))

    order = container.order
    last = container.get(links[-1])

    assert order == links
    assert depth_of(last) == CHAIN_LENGTH - 1


def test_long_transient_chain_resolves():
    """A 10,000-deep chain of transients is built afresh, without recursion."""
    links = chain_of_classes(CHAIN_LENGTH)
    container = Container(Registry())
    for link in links:
        container.register(link, scope="transient")

    first = container.get(links[-1])
    second = container.get(links[-1])

    assert depth_of(first) == CHAIN_LENGTH - 1
    assert depth_of(second) == CHAIN_LENGTH - 1
    assert first.previous is not second.previous
    assert container.order == []


def test_long_chain_missing_its_root_reports_the_whole_path():
    """The missing-provider path of a deep chain is built without recursion."""
    links = chain_of_classes(CHAIN_LENGTH)
    container = Container(*links[1:])

    with pytest.raises(MissingDependencyError) as caught:
        container.get(links[-1])

    assert caught.value.key is links[0]
    assert caught.value.path == links[::-1]


def test_graph_parts_name_their_keys_when_printed():
    """Nodes, parameters and arguments show the keys they stand for."""
    graph = Container(Settings, Database, Clock).graph()
    node = graph.nodes[Database]

    assert repr(node) == "<Node Database #1>"
    assert repr(node.params[0]) == "<Param settings: Settings>"
    assert repr(graph.args[Database][0]) == "<Arg settings=Settings>"


def test_an_argument_without_a_provider_shows_its_value():
    """An unprovided ``T | None`` is passed ``None``, and says so."""

    class Audit:
        def __init__(self, clock: Clock | None) -> None:
            self.clock = clock

    graph = Container(Audit).graph()

    assert repr(graph.args[Audit][0]) == "<Arg clock=None>"


def test_a_held_positional_only_default_shows_its_name_and_value():
    """A default passed by position before an injected argument is shown."""

    class Pool:
        def __init__(
            self, size: int = 4, /, settings: Settings | None = None
        ) -> None:
            self.size = size

    graph = Container(Settings, Pool).graph()

    assert [repr(arg) for arg in graph.args[Pool]] == [
        "<Arg size=4>",
        "<Arg settings=Settings>",
    ]


def test_keyword_only_parameters_that_are_all_provided_are_injected():
    """A constructor taking only keyword-only services gets them by name."""

    class Report:
        def __init__(self, *, settings: Settings, clock: Clock) -> None:
            self.settings = settings
            self.clock = clock

    container = Container(Settings, Clock, Report)

    report = container.get(Report)

    assert report.settings is container.get(Settings)
    assert report.clock is container.get(Clock)
