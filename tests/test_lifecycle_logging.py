"""What the container logs under "mainspring" while it starts and stops."""

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from _lifecycle_support import hang, log_line, named, wait_in_thread
from mainspring import Container, Registry, ShutdownError, StartupError


def _records(caplog, level):
    return [
        record
        for record in caplog.records
        if record.name == "mainspring" and record.levelno == level
    ]


def _chain():
    @named
    class Settings:
        def start(self): ...

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        async def stop(self): ...

    return Settings, Database


def test_each_start_and_stop_is_one_info_line(caplog):
    """One line per service started and per service stopped, in order."""
    caplog.set_level(logging.INFO, logger="mainspring")
    settings, database = _chain()

    with Container(settings, database):
        pass

    records = _records(caplog, logging.INFO)
    assert [r.getMessage().split(" in ")[0] for r in records] == [
        "started Settings",
        "started Database",
        "stopped Database",
        "stopped Settings",
    ]


def test_each_info_line_gives_the_elapsed_time(caplog):
    """The message shows milliseconds; the record carries the seconds."""
    caplog.set_level(logging.INFO, logger="mainspring")
    settings, database = _chain()

    with Container(settings, database):
        pass

    records = _records(caplog, logging.INFO)
    assert [r.mainspring_service for r in records] == [
        "Settings",
        "Database",
        "Database",
        "Settings",
    ]
    for record in records:
        seconds = record.mainspring_seconds
        assert isinstance(seconds, float)
        assert seconds >= 0
        verb = record.getMessage().split()[0]
        assert record.getMessage() == (
            f"{verb} {record.mainspring_service} in {seconds * 1000:.1f} ms"
        )


def test_the_start_order_is_logged_at_debug(caplog):
    """The computed order is one DEBUG line, dependencies first."""
    caplog.set_level(logging.DEBUG, logger="mainspring")
    settings, database = _chain()

    @named
    class Api:
        def __init__(self, database: database) -> None: ...

    container = Container(Api, database, settings)
    container.order  # noqa: B018 - the first use validates and logs

    messages = [r.getMessage() for r in _records(caplog, logging.DEBUG)]
    assert "start order: Settings -> Database -> Api" in messages


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failing_stop_is_a_warning_with_its_traceback(caplog, kind):
    """Raised later in a group, the failure is logged when it happens.

    Sync and async stops are run by different code, so both are checked.
    """
    caplog.set_level(logging.INFO, logger="mainspring")
    reset = OSError("connection reset")

    if kind == "sync":

        @named
        class Database:
            def stop(self):
                raise reset

    else:

        @named
        class Database:
            async def stop(self):
                raise reset

    container = Container(Database)
    container.start()

    with pytest.raises(ShutdownError):
        container.stop()

    [warning] = _records(caplog, logging.WARNING)
    assert warning.getMessage() == "stopping Database failed"
    assert warning.exc_info[1] is reset
    assert warning.mainspring_service == "Database"


def test_a_failing_teardown_is_a_warning_with_its_traceback(caplog):
    """Code after a factory's ``yield`` that raises is logged as well."""
    leaked = RuntimeError("pool leaked 2 connections")

    @named
    class Pool:
        pass

    def pool() -> Iterator[Pool]:
        yield Pool()
        raise leaked

    container = Container(pool)
    container.start()

    with pytest.raises(ShutdownError):
        container.stop()

    [warning] = _records(caplog, logging.WARNING)
    assert warning.getMessage() == "tearing down Pool failed"
    assert warning.exc_info[1] is leaked


def test_a_stop_over_budget_is_an_error(caplog):
    """A stop given up on is logged at ERROR, naming the service."""
    registry = Registry()

    @registry.service(stop_timeout=0.05)
    @named
    class Database:
        async def stop(self):
            await hang()

    container = Container(registry)
    container.start()

    with pytest.raises(ShutdownError):
        container.stop()

    [error] = _records(caplog, logging.ERROR)
    assert error.getMessage() == "Database did not stop within 0.05s"
    assert error.mainspring_service == "Database"


def test_a_sync_stop_over_budget_is_an_error_with_its_fields(caplog):
    """The ERROR record of a blocked sync stop names it and its budget."""
    registry = Registry()
    release = threading.Event()

    @registry.service(stop_timeout=0.05)
    @named
    class Database:
        def stop(self):
            wait_in_thread(release, "the end of the test")

    container = Container(registry)
    container.start()

    try:
        with pytest.raises(ShutdownError):
            container.stop()
    finally:
        release.set()

    [error] = _records(caplog, logging.ERROR)
    assert error.getMessage() == "Database did not stop within 0.05s"
    assert error.mainspring_service == "Database"
    assert error.mainspring_seconds == 0.05


def test_a_failing_body_is_an_error_with_its_traceback(caplog):
    """A body's failure is logged when it happens, not only at stop."""
    closed = RuntimeError("queue closed")

    @named
    class Consumer:
        async def run(self):
            await asyncio.sleep(0)
            raise closed

    container = Container(Consumer)

    with log_line("Consumer.run() failed") as failed:
        container.start()
        wait_in_thread(failed, "the body's failure to be logged")
    with pytest.raises(ShutdownError):
        container.stop()

    [error] = _records(caplog, logging.ERROR)
    assert error.getMessage() == "Consumer.run() failed"
    assert error.exc_info[1] is closed
    assert error.mainspring_service == "Consumer"


def test_a_failed_start_is_logged_with_its_traceback(caplog):
    """The operator's log shows why a start failed, after the rollback."""
    caplog.set_level(logging.DEBUG, logger="mainspring")

    @named
    class Settings:
        pass

    @named
    class Database:
        def __init__(self, settings: Settings) -> None: ...

        def start(self):
            raise RuntimeError("boom")

    container = Container(Settings, Database)

    with pytest.raises(StartupError) as caught:
        container.start()

    failures = [
        r for r in caplog.records if r.exc_info and r.name == "mainspring"
    ]
    assert [(r.levelno, r.getMessage()) for r in failures] == [
        (logging.ERROR, "starting Database failed")
    ]
    assert failures[0].exc_info[1] is caught.value.__cause__
    assert failures[0].mainspring_service == "Database"
    assert [
        r.getMessage().split(" in ")[0] for r in _records(caplog, logging.INFO)
    ] == ["started Settings", "stopped Settings"]


def test_a_failed_build_is_logged_with_its_traceback(caplog):
    """A constructor that raises is logged at ERROR, naming its service."""
    caplog.set_level(logging.DEBUG, logger="mainspring")

    @named
    class Broken:
        def __init__(self) -> None:
            raise ValueError("bad settings")

    with pytest.raises(StartupError):
        Container(Broken).start()

    failures = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in failures] == ["building Broken failed"]
    assert isinstance(failures[0].exc_info[1], ValueError)
    assert failures[0].mainspring_service == "Broken"


def test_the_library_adds_no_handler():
    """Where log lines go is the application's choice."""
    logger = logging.getLogger("mainspring")

    class Database:
        def stop(self):
            raise OSError("connection reset")

    container = Container(Database)
    container.start()
    with pytest.raises(ShutdownError):
        container.stop()

    assert logger.handlers == []
    assert logger.propagate


def test_a_body_that_returns_is_an_info_line_naming_its_service(caplog):
    """The record of a body that returned carries its service's name."""
    caplog.set_level(logging.INFO, logger="mainspring")
    message = "Migrations.run() returned; the service keeps running"

    @named
    class Migrations:
        async def run(self):
            pass

    container = Container(Migrations)

    with log_line(message) as returned:
        container.start()
        wait_in_thread(returned, "the body's return to be logged")
    container.stop()

    [record] = [
        r for r in _records(caplog, logging.INFO) if r.getMessage() == message
    ]
    assert record.mainspring_service == "Migrations"
