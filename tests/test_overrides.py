"""Overrides: replacing a provider for a block or for a container's life."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from mainspring import (
    Container,
    MissingDependencyError,
    Registry,
    ShutdownError,
    StateError,
    UnknownServiceError,
)


class Settings:
    def __init__(self) -> None:
        self.dsn = "sqlite://"


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class FakeDatabase(Database):
    def __init__(self) -> None:
        self.settings = None


class Api:
    def __init__(self, database: Database) -> None:
        self.database = database


class Audit:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Unrelated:
    pass


class Credentials:
    pass


class VaultDatabase(Database):
    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials


class RequestId:
    pass


class Handler:
    def __init__(self, database: Database, request_id: RequestId) -> None:
        self.database = database
        self.request_id = request_id


def make_container(**options):
    return Container(Settings, Database, Api, Audit, **options)


# What a replacement can be


def test_override_with_an_instance():
    """An object that is not a class or function is the instance itself."""
    container = make_container()
    fake = FakeDatabase()

    with container.override(Database, fake):
        inside = container.get(Database)

    assert inside is fake


def test_override_with_a_class():
    """A class replaces the provider and is built like one."""
    container = make_container()

    with container.override(Database, FakeDatabase):
        first = container.get(Database)
        second = container.get(Database)

    assert isinstance(first, FakeDatabase)
    assert first is second


def test_override_with_a_function():
    """A function replaces the provider and is called to build it."""
    container = make_container()
    calls = []

    def fake_database(settings: Settings) -> FakeDatabase:
        calls.append(settings)
        return FakeDatabase()

    with container.override(Database, fake_database):
        inside = container.get(Database)
        settings = container.get(Settings)

    assert isinstance(inside, FakeDatabase)
    assert calls == [settings]


def test_class_replacement_keeps_the_original_scope():
    """A replacement of a transient is built anew each time."""
    container = Container(Registry())
    container.register(RequestId, scope="transient")

    class FakeRequestId(RequestId):
        pass

    with container.override(RequestId, FakeRequestId):
        first = container.get(RequestId)
        second = container.get(RequestId)

    assert isinstance(first, FakeRequestId)
    assert first is not second


def test_replacement_of_a_generator_factory_is_torn_down_when_the_block_ends():
    """A generator replacement built inside the block is closed on exit."""
    container = make_container()
    events = []

    def fake_database() -> Iterator[Database]:
        events.append("opened")
        yield FakeDatabase()
        events.append("closed")

    with container.override(Database, fake_database):
        container.get(Database)
        inside = list(events)

    assert inside == ["opened"]
    assert events == ["opened", "closed"]


# Who sees the replacement, and for how long


def test_dependents_built_inside_the_block_receive_the_replacement():
    """A dependent built in the block is wired to the replacement."""
    container = make_container()
    fake = FakeDatabase()

    with container.override(Database, fake):
        api = container.get(Api)

    assert api.database is fake


def test_transient_dependents_receive_the_replacement():
    """Transients built in the block are wired to the replacement too."""
    container = make_container()
    container.register(RequestId, scope="transient")
    container.register(Handler, scope="transient")
    fake = FakeDatabase()

    with container.override(Database, fake):
        inside = container.get(Handler)
    after = container.get(Handler)

    assert inside.database is fake
    assert isinstance(after.database, Database)
    assert after.database is not fake


def test_original_provider_is_back_after_the_block():
    """After the block, ``get`` builds from the original provider."""
    container = make_container()

    with container.override(Database, FakeDatabase()):
        container.get(Database)
    after = container.get(Database)

    assert type(after) is Database


def test_singleton_dependent_built_inside_is_rebuilt_after_the_block():
    """Instances that held the replacement are dropped when the block ends."""
    container = make_container()
    fake = FakeDatabase()

    with container.override(Database, fake):
        inside = container.get(Api)
    after = container.get(Api)

    assert after is not inside
    assert after.database is not fake
    assert type(after.database) is Database


def test_unrelated_singletons_built_inside_survive_the_block():
    """Only what depends on the overridden key is dropped."""
    container = make_container()

    with container.override(Database, FakeDatabase()):
        settings = container.get(Settings)
        audit = container.get(Audit)

    assert container.get(Settings) is settings
    assert container.get(Audit) is audit


def test_singletons_built_before_the_block_are_kept():
    """Unrelated singletons built earlier are the same after the block."""
    container = make_container()
    settings = container.get(Settings)

    with container.override(Database, FakeDatabase):
        inside = container.get(Database)

    assert container.get(Settings) is settings
    assert inside.settings is None
    assert container.get(Database).settings is settings


def test_override_ends_when_the_block_raises():
    """An exception leaving the block still restores the original."""
    container = make_container()
    message = "test failure inside the block"

    def fail_inside_the_block():
        with container.override(Database, FakeDatabase()):
            container.get(Api)
            raise LookupError(message)

    with pytest.raises(LookupError, match=message):
        fail_inside_the_block()

    assert type(container.get(Api).database) is Database


def test_failing_teardown_of_a_replacement_is_reported_when_the_block_ends():
    """A replacement's teardown that raises is not lost as the block ends."""
    container = make_container()

    def leaky_database() -> Iterator[Database]:
        yield FakeDatabase()
        message = "pool leaked"
        raise ValueError(message)

    def use_the_replacement():
        with container.override(Database, leaky_database):
            container.get(Api)

    with pytest.raises(ShutdownError) as caught:
        use_the_replacement()

    assert caught.value.message == "teardown failed as an override ended"
    (error,) = caught.value.exceptions
    assert isinstance(error, ValueError)
    assert str(error) == "pool leaked"
    assert error.__notes__ == ["while tearing down Database"]
    assert caught.value.services == [Database]
    assert type(container.get(Api).database) is Database


def test_async_generator_replacement_is_torn_down_when_the_container_stops():
    """An async teardown cannot run in a sync ``with``; stopping runs it."""
    events = []

    async def async_database() -> AsyncIterator[Database]:
        events.append("opened")
        yield FakeDatabase()
        events.append("closed")

    async def scenario():
        container = make_container()
        with container.override(Database, async_database):
            inside = await container.aget(Api)
        after_block = list(events)
        after = await container.aget(Api)
        await container.astop()
        return inside, after, after_block

    inside, after, after_block = asyncio.run(scenario())

    assert isinstance(inside.database, FakeDatabase)
    assert type(after.database) is Database
    assert after_block == ["opened"]
    assert events == ["opened", "closed"]


# Nesting


def test_nested_overrides_of_one_key_unwind_in_order():
    """The innermost override wins; each block's end restores the outer."""
    container = make_container()
    outer = FakeDatabase()
    inner = FakeDatabase()

    with container.override(Database, outer):
        with container.override(Database, inner):
            in_inner = container.get(Api).database
        in_outer = container.get(Api).database
    after = container.get(Api).database

    assert in_inner is inner
    assert in_outer is outer
    assert type(after) is Database


def test_nested_overrides_of_different_keys_combine():
    """Overrides of two keys apply together inside both blocks."""
    container = make_container()
    settings = Settings()
    fake = FakeDatabase()

    with container.override(Settings, settings):
        with container.override(Database, fake):
            api = container.get(Api)
            audit = container.get(Audit)
        after_inner = container.get(Database)

    assert api.database is fake
    assert audit.settings is settings
    assert after_inner.settings is settings
    assert container.get(Settings) is not settings


# Refusals


def test_override_of_an_unknown_key_is_an_unknown_service_error():
    """Only a key that something provides can be replaced."""
    container = make_container()
    container.get(Settings)

    with (
        pytest.raises(UnknownServiceError) as caught,
        container.override(Unrelated, Unrelated()),
    ):
        pass

    assert str(caught.value) == (
        "cannot override Unrelated: no service Unrelated is registered"
    )
    assert caught.value.key is Unrelated


def test_override_of_an_unknown_key_before_first_use_fails_on_use():
    """Before first use, the unknown key is reported when validating."""
    container = make_container()

    with (
        pytest.raises(UnknownServiceError) as caught,
        container.override(Unrelated, Unrelated()),
    ):
        container.get(Settings)

    assert caught.value.key is Unrelated


def test_override_of_a_built_key_is_a_state_error():
    """Replacing what dependents may already hold is refused."""
    container = make_container()
    container.get(Database)

    with (
        pytest.raises(StateError) as caught,
        container.override(Database, FakeDatabase()),
    ):
        pass

    assert str(caught.value) == (
        "cannot override Database: it is already built; override before the "
        "first get() or start()"
    )


def test_override_after_stop_is_a_state_error():
    """A stopped container takes no more overrides."""
    container = make_container()
    container.get(Settings)
    container.stop()

    with (
        pytest.raises(StateError) as caught,
        container.override(Database, FakeDatabase()),
    ):
        pass

    assert str(caught.value) == (
        "cannot override Database: the container has stopped"
    )


def test_override_that_breaks_the_graph_is_refused_and_undone():
    """A replacement with unmet needs fails at once; the original stays."""
    container = make_container()
    container.get(Settings)

    with (
        pytest.raises(MissingDependencyError) as caught,
        container.override(Database, VaultDatabase),
    ):
        pass

    assert str(caught.value) == (
        "no provider for Credentials (needed by Database -> Credentials)"
    )
    assert type(container.get(Api).database) is Database


def test_override_cannot_end_while_the_container_runs():
    """Started services hold the replacement, so the block may not end.

    The replacement then stays until the container is stopped.
    """
    container = make_container()
    fake = FakeDatabase()

    def start_inside_the_block():
        with container.override(Database, fake):
            container.start()

    with pytest.raises(StateError) as caught:
        start_inside_the_block()
    held = container.get(Api).database
    container.stop()

    assert str(caught.value) == (
        "cannot end the override of Database while the container runs: "
        "started services hold the replacement; stop the container inside "
        "the block"
    )
    assert held is fake


def test_refused_override_changes_nothing():
    """After a refused override the built instance is still in use."""
    container = make_container()
    database = container.get(Database)

    with (
        pytest.raises(StateError),
        container.override(Database, FakeDatabase()),
    ):
        pass

    assert container.get(Database) is database
    assert container.get(Api).database is database


# For the container's whole life


def test_container_overrides_replace_for_the_whole_life():
    """``Container(overrides=...)`` replaces a provider for good."""
    fake = FakeDatabase()
    container = make_container(overrides={Database: fake})

    api = container.get(Api)

    assert api.database is fake
    assert container.get(Database) is fake
    assert container.order == [Settings, Database, Api, Audit]


def test_container_overrides_accept_classes():
    """A class given in ``overrides=`` is built in place of the original."""
    container = make_container(overrides={Database: FakeDatabase})

    assert isinstance(container.get(Api).database, FakeDatabase)


def test_container_override_of_an_unknown_key_fails_on_first_use():
    """An override without an original provider is an unknown key."""
    container = make_container(overrides={Unrelated: Unrelated()})

    with pytest.raises(UnknownServiceError) as caught:
        container.get(Settings)

    assert str(caught.value) == (
        "cannot override Unrelated: no service Unrelated is registered"
    )


# Isolation between containers


def test_block_override_does_not_leak_into_another_container():
    """Two containers of one registry have separate overrides."""
    registry = Registry()
    registry.service(Settings)
    registry.service(Database)
    registry.service(Api)
    first = Container(registry)
    second = Container(registry)
    fake = FakeDatabase()

    with first.override(Database, fake):
        in_first = first.get(Api)
        in_second = second.get(Api)

    assert in_first.database is fake
    assert type(in_second.database) is Database


def test_container_overrides_do_not_leak_into_another_container():
    """``overrides=`` belongs to the one container it was given to."""
    fake = FakeDatabase()
    overridden = make_container(overrides={Database: fake})
    plain = make_container()

    assert overridden.get(Database) is fake
    assert type(plain.get(Database)) is Database


def test_block_override_does_not_change_the_registry():
    """A container built after an override block sees the original."""
    registry = Registry()
    registry.service(Settings)
    registry.service(Database)
    first = Container(registry)

    with first.override(Database, FakeDatabase()):
        first.get(Database)
        later = Container(registry)
        in_later = later.get(Database)

    assert type(in_later) is Database
