"""Type-checked by mypy and pyright in CI, never executed.

Each check states what a user's type checker must infer from the public
API. A line ending in ``# type: ignore[...]`` must stay an error: both
checkers report an ignore that no longer silences anything.
"""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol, assert_type

from mainspring import Container, Registry, default_registry, service


class Settings:
    dsn = "sqlite://"


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.dsn = settings.dsn


class Pool:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine


class Client:
    pass


@service
class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Cache(Protocol):
    def fetch(self, key: str) -> bytes | None: ...


class Store(ABC):
    @abstractmethod
    def put(self, key: str, value: bytes) -> None: ...


@service(provides=Cache)
class MemoryCache:
    def fetch(self, key: str) -> bytes | None:
        return None


@service(scope="transient")
class RequestId:
    pass


@service
def make_engine(settings: Settings) -> Engine:
    return Engine(settings)


@service(start_timeout=5.0, stop_timeout=None)
def make_pool(engine: Engine) -> Iterator[Pool]:
    yield Pool(engine)


@service
async def make_client(settings: Settings) -> AsyncIterator[Client]:
    yield Client()


registry = Registry()


@registry.service
class Worker:
    pass


@registry.service(scope="transient")
class Job:
    pass


@registry.service
def make_settings() -> Settings:
    return Settings()


def check_get(container: Container) -> None:
    assert_type(container.get(Database), Database)
    assert_type(container.get(Settings), Settings)
    # Protocols and abstract classes are keys too; `type[T]` would refuse
    # both under mypy.
    assert_type(container.get(Cache), Cache)
    assert_type(container.get(Store), Store)
    assert_type(container.get(Pool), Pool)


async def check_aget(container: Container) -> None:
    assert_type(await container.aget(Database), Database)
    assert_type(await container.aget(Cache), Cache)
    assert_type(await container.aget(Store), Store)
    assert_type(await container.aget(Client), Client)


def check_service_keeps_classes() -> None:
    assert_type(service(Database), type[Database])
    assert_type(service(scope="transient")(RequestId), type[RequestId])
    assert_type(service(provides=Cache)(MemoryCache), type[MemoryCache])
    assert_type(RequestId, type[RequestId])
    assert_type(RequestId(), RequestId)
    assert_type(MemoryCache().fetch("key"), bytes | None)


def check_service_keeps_factories() -> None:
    # A function's own type names its parameters, which a `Callable[...]`
    # cannot, so `assert_type(make_engine, Callable[[Settings], Engine])`
    # fails in both checkers even when nothing is lost. Assigning to the
    # Callable, checking the call's result and rejecting a wrong argument
    # together prove that the decorator kept the signature.
    engine_factory: Callable[[Settings], Engine] = make_engine
    assert_type(engine_factory(Settings()), Engine)
    assert_type(make_engine(Settings()), Engine)
    make_engine(Engine(Settings()))  # type: ignore[arg-type]

    pool_factory: Callable[[Engine], Iterator[Pool]] = make_pool
    assert_type(pool_factory(Engine(Settings())), Iterator[Pool])
    assert_type(make_pool(Engine(Settings())), Iterator[Pool])

    client_factory: Callable[[Settings], AsyncIterator[Client]] = make_client
    assert_type(client_factory(Settings()), AsyncIterator[Client])
    assert_type(make_client(Settings()), AsyncIterator[Client])


def check_registry() -> None:
    assert_type(default_registry, Registry)
    assert_type(registry.service(Worker), type[Worker])
    assert_type(registry.service(scope="transient")(Job), type[Job])
    assert_type(Job(), Job)
    assert_type(make_settings(), Settings)
    make_settings(Settings())  # type: ignore[call-arg]


def check_container() -> None:
    Container()
    Container(registry)
    Container(Settings, Database, make_engine, make_pool)
    Container(
        registry,
        overrides={Database: Database(Settings())},
        start_timeout=None,
        stop_timeout=2.5,
    )


def check_override_and_statuses(container: Container) -> None:
    with container.override(Database, Database(Settings())):
        assert_type(container.get(Database), Database)

    assert_type(container.statuses(), dict[object, BaseException | None])
