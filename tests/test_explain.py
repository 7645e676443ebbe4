"""The container itself as a dependency, and the code `explain` shows."""

import asyncio
from collections.abc import Iterator

import pytest

from mainspring import (
    Container,
    InvalidProviderError,
    StateError,
    UnknownServiceError,
)


class Settings:
    pass


class Pool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def pool(settings: Settings) -> Iterator[Pool]:
    yield Pool(settings)


class Request:
    def __init__(self, pool: Pool, settings: Settings | None = None) -> None:
        self.pool = pool
        self.settings = settings


class Handler:
    def __init__(
        self, first: Request, second: Request, *, tag: str = ""
    ) -> None:
        self.first = first
        self.second = second
        self.tag = tag


class Client:
    pass


async def client(settings: Settings) -> Client:
    return Client()


class Api:
    def __init__(self, container: Container) -> None:
        self.container = container

    def start(self) -> None:
        self.seen = self.container.get(Settings)


def transient_container() -> Container:
    container = Container(Settings, pool)
    container.register(Request, scope="transient")
    container.register(Handler, scope="transient")
    return container


def test_a_parameter_annotated_container_receives_the_container() -> None:
    """A service that asks for Container gets the one that builds it."""
    container = Container(Settings, Api)

    api = container.get(Api)

    assert api.container is container
    assert container.get(Container) is container


def test_the_container_is_not_a_service_of_its_own() -> None:
    """The container has no lifecycle: it is in neither order nor statuses."""
    container = Container(Settings, Api)

    with container:
        statuses = container.statuses()

    assert container.order == [Settings, Api]
    assert list(statuses) == [Settings, Api]


def test_registering_the_container_as_an_instance_is_refused() -> None:
    """register_instance(container) would run its own start() as a hook."""
    container = Container(Settings)
    container.register_instance(container)

    with pytest.raises(InvalidProviderError) as caught:
        container.get(Settings)

    assert str(caught.value) == (
        "a container cannot be registered as a service; a parameter "
        "annotated with Container receives the container that builds it"
    )


def test_explain_shows_the_generated_maker_of_a_transient() -> None:
    """Each transient is made afresh; singletons come from the cache."""
    container = transient_container()

    text = container.explain(Handler)

    assert text == (
        "def make():\n"
        "    request = Request(c[Pool], c[Settings])\n"
        "    request_2 = Request(c[Pool], c[Settings])\n"
        "    return Handler(request, request_2)\n"
    )


def test_explain_shows_the_one_call_that_builds_a_singleton() -> None:
    """A generator factory's instance is what it yields."""
    container = transient_container()

    text = container.explain(Pool)

    assert text == (
        "# singleton Pool: built once, then shared\n"
        "c[Pool] = next(pool(c[Settings]))\n"
    )


def test_explain_shows_awaits_for_async_factories() -> None:
    """An async maker awaits coroutine factories and async singletons."""
    container = Container(Settings, client)

    class Call:
        def __init__(self, client: Client) -> None:
            self.client = client

    container.register(Call, scope="transient")

    assert container.explain(Call) == (
        "async def make():\n"
        "    return Call("
        "(c[Client] if Client in c else await build(Client)))\n"
    )
    assert isinstance(asyncio.run(container.aget(Call)).client, Client)


def test_explain_of_an_unknown_key_names_the_closest() -> None:
    """Explaining goes through the same lookup as get."""
    container = transient_container()

    with pytest.raises(UnknownServiceError):
        container.explain(Client)


def test_generated_makers_build_what_explain_shows() -> None:
    """Transients are distinct, singletons shared, defaults left alone."""
    container = transient_container()

    handler = container.get(Handler)

    assert handler.first is not handler.second
    assert handler.first.pool is handler.second.pool is container.get(Pool)
    assert handler.first.settings is container.get(Settings)
    assert handler.tag == ""


def test_a_generated_maker_line_shows_in_tracebacks() -> None:
    """A constructor that raises is reported through the maker's source."""
    container = Container(Settings)

    class Broken:
        def __init__(self, settings: Settings) -> None:
            message = "no"
            raise ValueError(message)

    container.register(Broken, scope="transient")

    with pytest.raises(ValueError, match="no") as caught:
        container.get(Broken)

    lines = [str(entry.statement).strip() for entry in caught.traceback]
    assert "return Broken(c[Settings])" in lines


def test_get_after_stop_is_a_state_error_for_transients_too() -> None:
    """Stopping drops the compiled makers along with the instances."""
    container = transient_container()
    container.get(Handler)
    container.start()
    container.stop()

    with pytest.raises(StateError, match="the container has stopped"):
        container.get(Handler)
