"""The container itself as a dependency, and the code `explain` shows."""

import asyncio
from collections.abc import Iterator

import pytest

from mainspring import (
    Container,
    InvalidProviderError,
    Registry,
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
        "    return Handler(Request(c[Pool], c[Settings]), "
        "Request(c[Pool], c[Settings]))\n"
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


def many_transients(count: int) -> tuple[Container, list[type]]:
    """A container of ``count`` transients over one singleton."""
    container = Container(Settings)
    kinds = []
    for index in range(count):

        def init(self, settings):
            self.settings = settings

        init.__annotations__ = {"settings": Settings}
        kind = type(f"Request{index}", (), {"__init__": init})
        container.register(kind, scope="transient")
        kinds.append(kind)
    return container, kinds


def test_get_carries_the_first_transients_asked_for_inline() -> None:
    """The first eight transients are made inside get; more still work."""
    container, kinds = many_transients(10)

    made = [(container.get(kind), container.get(kind)) for kind in kinds]
    source = container._get.source()

    for kind, (first, second) in zip(kinds, made, strict=True):
        assert type(first) is kind
        assert first is not second
        assert first.settings is second.settings is container.get(Settings)
    for index in range(8):
        assert f"    if key is Request{index}:\n" in source
    assert "Request8" not in source
    assert "Request9" not in source


def test_get_forgets_inlined_bodies_when_an_override_ends() -> None:
    """Inside the block get makes the replacement; after it, the original."""
    container = transient_container()

    class FakeRequest:
        pass

    with container.override(Request, FakeRequest):
        inside = container.get(Handler)
    after = container.get(Handler)

    assert type(inside.first) is FakeRequest
    assert type(after.first) is Request
    assert "FakeRequest" not in container._get.source()


def test_aget_carries_async_transients_inline() -> None:
    """The async entry point makes a transient over an async singleton."""
    container = Container(Settings, client)

    class Call:
        def __init__(self, client: Client) -> None:
            self.client = client

    container.register(Call, scope="transient")

    async def twice() -> tuple[Call, Call]:
        return await container.aget(Call), await container.aget(Call)

    first, second = asyncio.run(twice())

    assert first is not second
    assert first.client is second.client
    assert "    if key is Call:\n" in container._aget.source()


def test_deep_transient_trees_spill_into_local_variables() -> None:
    """Past a nesting depth, the maker holds instances in variables."""
    container = Container(Registry())
    previous = None
    for index in range(40):
        if previous is None:

            def init(self):
                self.previous = None

        else:

            def init(self, previous):
                self.previous = previous

            init.__annotations__ = {"previous": previous}
        previous = type(f"Link{index}", (), {"__init__": init})
        container.register(previous, scope="transient")

    text = container.explain(previous)
    made = container.get(previous)

    assert text.count(" = ") == 2
    depth = 0
    while made.previous is not None:
        made, depth = made.previous, depth + 1
    assert depth == 39
