"""``container.run()`` in real processes, stopped by real signals.

Each test starts one of the applications in tests/_lifecycle_apps.py,
waits for the line that says it reached the moment of interest, sends a
signal and reads how the process ended. Every wait is bounded, so a broken
lifecycle fails the test instead of hanging it.
"""

from __future__ import annotations

import io
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import mainspring
from mainspring import _lifecycle

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX signals"
)

TESTS = Path(__file__).resolve().parent
APPS = TESTS / "_lifecycle_apps.py"
# The applications import mainspring from where this process found it.
SOURCE = Path(mainspring.__file__).resolve().parent.parent

PATIENCE = 30.0
"""Seconds for a fresh interpreter to reach a line; generous for slow CI."""

SIGNALS = [signal.SIGINT, signal.SIGTERM]


class App:
    """One application process whose output is read line by line."""

    def __init__(self, scenario: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(SOURCE), env.get("PYTHONPATH")])
        )
        self.process = subprocess.Popen(
            [sys.executable, str(APPS), scenario],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self._stderr.extend(self.process.stderr)

    def wait_for(self, expected: str) -> None:
        """Read the next line, which must be ``expected``."""
        try:
            line = self._lines.get(timeout=PATIENCE)
        except queue.Empty:
            pytest.fail(f"no {expected!r} line within {PATIENCE}s")
        assert line == expected, self.stderr

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def finish(self) -> tuple[int, list[str]]:
        """Wait for the exit; return the status and the remaining lines."""
        status = self.process.wait(timeout=PATIENCE)
        for reader in self._readers:
            reader.join(PATIENCE)
        lines = []
        while (line := self._lines.get(timeout=PATIENCE)) is not None:
            lines.append(line)
        return status, lines

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(PATIENCE)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def launch():
    """Start applications by scenario name; kill what is left at the end."""
    apps: list[App] = []

    def start(scenario: str) -> App:
        app = App(scenario)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.kill()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_signal_stops_every_service_in_reverse_and_exits_zero(
    launch, signum
):
    """The first signal ends serving; run() stops everything and returns."""
    app = launch("serve")
    app.wait_for("READY")

    app.send(signum)
    status, lines = app.finish()

    assert status == 0, app.stderr
    assert lines == [
        "stopped Consumer",
        "stopped Database",
        "stopped Settings",
        "returned",
    ]
    assert f"{signum.name} received: stopping" in app.stderr


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_signal_during_start_rolls_back_and_fails(launch, signum):
    """A signal while starting is a StartupError naming the signal."""
    app = launch("slow_start")
    app.wait_for("STARTING")

    app.send(signum)
    status, lines = app.finish()

    assert status == 1, app.stderr
    assert lines == [
        "stopped Settings",
        (
            f"StartupError: start interrupted by {signum.name}; started "
            "services were stopped [service=None]"
        ),
    ]


@pytest.mark.parametrize(
    ("signum", "expected_status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_second_signal_during_a_slow_stop_exits_at_once(
    launch, signum, expected_status
):
    """A stop that hangs is abandoned by a second signal: 128 + signal."""
    app = launch("slow_stop")
    app.wait_for("READY")
    app.send(signum)
    app.wait_for("stopped Consumer")
    app.wait_for("STOPPING")

    app.send(signum)
    status, lines = app.finish()

    assert status == expected_status, app.stderr
    assert lines == []
    assert (
        f"second {signum.name} during shutdown: exiting at once" in app.stderr
    )


def test_a_failing_body_stops_everything_and_fails(launch):
    """A body that raises ends the application with ServiceFailedError."""
    app = launch("failing_body")

    status, lines = app.finish()

    assert status == 1, app.stderr
    assert lines == [
        "READY",
        "stopped BrokenConsumer",
        "stopped Consumer",
        "stopped Settings",
        (
            "ServiceFailedError: BrokenConsumer.run() failed: "
            "ConnectionError: lost connection [service=BrokenConsumer]"
        ),
    ]
    assert "ConnectionError: lost connection" in app.stderr


def test_run_returns_when_every_body_has_returned(launch):
    """With all work done, the application stops and exits zero."""
    app = launch("bodies_return")

    status, lines = app.finish()

    assert status == 0, app.stderr
    assert lines == [
        "imported",
        "stopped Importer",
        "stopped Settings",
        "returned",
    ]


def test_ctrl_c_during_a_sync_start_rolls_back(launch):
    """Under ``with``, SIGINT while starting rolls back, then interrupts."""
    app = launch("slow_start_under_with")
    app.wait_for("STARTING")

    app.send(signal.SIGINT)
    status, lines = app.finish()

    assert status == 1, app.stderr
    assert lines == ["stopped Settings", "KeyboardInterrupt"]


def test_an_exit_at_once_goes_ahead_when_stderr_cannot_be_flushed(
    monkeypatch,
):
    """A closed stderr does not keep a second signal from exiting."""
    statuses: list[int] = []

    class ExitedError(Exception):
        pass

    class ClosedStream(io.StringIO):
        def flush(self) -> None:
            raise ValueError("I/O operation on closed file")

    def exit_now(status: int) -> None:
        statuses.append(status)
        raise ExitedError

    monkeypatch.setattr(sys, "stderr", ClosedStream())
    monkeypatch.setattr(os, "_exit", exit_now)

    with pytest.raises(ExitedError):
        _lifecycle._exit_now(130)

    assert statuses == [130]
