"""``container.run()`` in this process: serving, ending, failing, signals.

The signals here are raised by the services themselves, once ``run()`` has
installed its handlers, so their arrival is part of the test's own order.
tests/test_signals.py sends real signals to real processes.
"""

import asyncio
import logging
import re
import signal
import threading

import pytest

from _lifecycle_support import PATIENCE, hang, named, wait_in_thread
from mainspring import (
    Container,
    ServiceFailedError,
    ShutdownError,
    StartupError,
)


def _stopping(events, name):
    def stop(self):
        events.append(f"{name} stop")

    return stop


def test_run_returns_once_every_body_has_ended():
    """With nothing left to do, run() stops everything and returns."""
    events = []

    class Settings:
        stop = _stopping(events, "Settings")

    class Importer:
        def __init__(self, settings: Settings) -> None: ...

        async def run(self):
            events.append("Importer run")

        stop = _stopping(events, "Importer")

    class Indexer:
        def __init__(self, settings: Settings) -> None: ...

        async def run(self):
            await asyncio.sleep(0)
            events.append("Indexer run")

        stop = _stopping(events, "Indexer")

    result = Container(Settings, Importer, Indexer).run()

    assert result is None
    assert events == [
        "Importer run",
        "Indexer run",
        "Indexer stop",
        "Importer stop",
        "Settings stop",
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_cleanly_on_a_signal(signum):
    """The first signal ends serving; every service stops in reverse."""
    events = []

    class Settings:
        stop = _stopping(events, "Settings")

    class Consumer:
        def __init__(self, settings: Settings) -> None: ...

        async def run(self):
            signal.raise_signal(signum)
            try:
                await hang()
            except asyncio.CancelledError:
                events.append("Consumer run cancelled")
                raise

        stop = _stopping(events, "Consumer")

    Container(Settings, Consumer).run()

    assert events == [
        "Consumer run cancelled",
        "Consumer stop",
        "Settings stop",
    ]


def test_run_puts_the_signal_handlers_back():
    """Once run() returns, SIGINT and SIGTERM do what they did before."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    class Consumer:
        async def run(self):
            signal.raise_signal(signal.SIGTERM)
            await hang()

    Container(Consumer).run()

    after = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert after == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_rolls_back(signum):
    """A signal while starting cancels the start and stops what started."""
    events = []

    class Settings:
        stop = _stopping(events, "Settings")

    class Database:
        def __init__(self, settings: Settings) -> None: ...

        async def start(self):
            signal.raise_signal(signum)
            try:
                await hang()
            except asyncio.CancelledError:
                events.append("Database start cancelled")
                raise

        stop = _stopping(events, "Database")

    container = Container(Settings, Database)

    with pytest.raises(StartupError) as caught:
        container.run()

    name = signal.Signals(signum).name
    assert str(caught.value) == (
        f"start interrupted by {name}; started services were stopped"
    )
    assert caught.value.service is None
    assert events == ["Database start cancelled", "Settings stop"]


def test_a_sync_start_that_returns_after_a_signal_is_rolled_back():
    """A sync start cannot be cancelled; once it returns it is stopped."""
    events = []
    other_cancelled = threading.Event()

    class Threaded:
        def start(self):
            signal.raise_signal(signal.SIGTERM)
            wait_in_thread(other_cancelled, "the async start to be cancelled")
            events.append("Threaded start returns")

        def stop(self):
            events.append("Threaded stop")

    class Looped:
        async def start(self):
            try:
                await hang()
            except asyncio.CancelledError:
                other_cancelled.set()
                raise

        def stop(self):
            events.append("Looped stop")

    with pytest.raises(StartupError) as caught:
        Container(Threaded, Looped).run()

    assert caught.value.service is None
    assert events == ["Threaded start returns", "Threaded stop"]


def test_a_signal_during_start_keeps_rollback_failures():
    """A stop that fails during the interrupted start's rollback is kept."""
    disk_full = OSError("disk full")

    class Settings:
        def stop(self):
            raise disk_full

    class Database:
        def __init__(self, settings: Settings) -> None: ...

        async def start(self):
            signal.raise_signal(signal.SIGTERM)
            await hang()

    with pytest.raises(StartupError) as caught:
        Container(Settings, Database).run()

    assert caught.value.rollback_errors == [disk_full]
    assert caught.value.__notes__ == ["during rollback: OSError: disk full"]


def test_run_raises_startup_error_when_a_start_fails():
    """A failed start is raised by run() after the rollback."""

    @named
    class Database:
        def start(self):
            raise RuntimeError("boom")

    with pytest.raises(StartupError) as caught:
        Container(Database).run()

    assert str(caught.value) == (
        "Database failed to start: RuntimeError: boom; started services "
        "were stopped"
    )


def test_a_failing_body_stops_everything_and_is_raised():
    """A body that raises ends serving; run() raises ServiceFailedError."""
    events = []
    lost = ConnectionError("lost connection")

    class Settings:
        stop = _stopping(events, "Settings")

    @named
    class Consumer:
        def __init__(self, settings: Settings) -> None: ...

        async def run(self):
            raise lost

        stop = _stopping(events, "Consumer")

    class Reporter:
        def __init__(self, settings: Settings) -> None: ...

        async def run(self):
            try:
                await hang()
            except asyncio.CancelledError:
                events.append("Reporter run cancelled")
                raise

        stop = _stopping(events, "Reporter")

    with pytest.raises(ServiceFailedError) as caught:
        Container(Settings, Consumer, Reporter).run()

    error = caught.value
    assert (
        str(error) == "Consumer.run() failed: ConnectionError: lost connection"
    )
    assert error.service is Consumer
    assert error.__cause__ is lost
    assert not hasattr(error, "__notes__")
    assert events == [
        "Reporter run cancelled",
        "Reporter stop",
        "Consumer stop",
        "Settings stop",
    ]


def test_a_failing_body_carries_the_stop_failures_as_notes():
    """Stops that also failed are not lost behind the body's failure."""

    @named
    class Settings:
        def stop(self):
            raise OSError("disk full")

    @named
    class Consumer:
        def __init__(self, settings: Settings) -> None: ...

        async def run(self):
            raise RuntimeError("lost connection")

    with pytest.raises(ServiceFailedError) as caught:
        Container(Settings, Consumer).run()

    assert caught.value.__notes__ == [
        "while stopping Settings: OSError: disk full"
    ]


def test_a_failing_stop_after_serving_is_a_shutdown_error():
    """Without a failed body, run() raises the ShutdownError of the stop."""

    @named
    class Database:
        async def run(self):
            pass

        def stop(self):
            raise OSError("connection reset")

    with pytest.raises(ShutdownError) as caught:
        Container(Database).run()

    assert caught.value.message == "stopping left failures in Database"
    assert caught.value.services == [Database]


def _run_in_another_thread(container: Container) -> list:
    """Call ``container.run()`` in a new thread; what it raised, or None."""
    outcome = []

    def main():
        try:
            container.run()
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(PATIENCE)
    return outcome


def test_run_outside_the_main_thread_serves_without_signal_handlers():
    """Only the main thread can take signals; elsewhere run() still serves."""
    events = []

    class Importer:
        async def run(self):
            events.append("Importer run")

        def stop(self):
            events.append("Importer stop")

    assert _run_in_another_thread(Container(Importer)) == [None]
    assert events == ["Importer run", "Importer stop"]


def test_run_logs_the_signal_it_stops_for(caplog):
    """The first signal is logged by name before the services stop."""
    caplog.set_level(logging.INFO, logger="mainspring")

    class Consumer:
        async def run(self):
            signal.raise_signal(signal.SIGTERM)
            await hang()

    Container(Consumer).run()

    messages = [r.getMessage() for r in caplog.records]
    assert "SIGTERM received: stopping" in messages


def test_run_outside_the_main_thread_logs_the_signals_it_cannot_take(
    caplog,
):
    """Each signal run() cannot handle there is named in a DEBUG record."""
    caplog.set_level(logging.DEBUG, logger="mainspring")

    class Importer:
        async def run(self):
            pass

    assert _run_in_another_thread(Container(Importer)) == [None]
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if m.startswith("cannot handle")] == [
        "cannot handle SIGINT here",
        "cannot handle SIGTERM here",
    ]


def test_run_logs_to_stderr_when_logging_is_not_configured(capsys):
    """Without any handler, run() logs INFO and up with a timestamp."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # pytest's own handlers sit on the root logger: take them off for the
    # call, and put everything back as it was afterwards.
    root.handlers.clear()
    try:

        class Importer:
            async def run(self):
                pass

        Container(Importer).run()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

    line = re.compile(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO mainspring: "
        r"every run\(\) body has ended: stopping"
    )
    lines = capsys.readouterr().err.splitlines()
    assert any(line.fullmatch(text) for text in lines), lines
