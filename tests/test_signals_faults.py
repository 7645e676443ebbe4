"""Real signals sent to real processes at the worst moments.

Each test runs one app from ``_fault_apps.py`` in a subprocess, waits for
the line that says the app reached the moment under test (``READY``,
``STOPPING S2``), sends SIGTERM or SIGINT, and checks how the process
stopped: which services were stopped and in which order, what was
reported, and the exit status. A reader thread feeds the app's lines into
a queue, so every wait is bounded and nothing polls or sleeps.
"""

import itertools
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX signals"
)

APP = Path(__file__).with_name("_fault_apps.py")
SRC = Path(__file__).parents[1] / "src"
WAIT = 30.0  # seconds: generous, only reached when something is wrong

SIGNALS = [signal.SIGTERM, signal.SIGINT]
# A line of the container's log, as run() sets it up: "... LEVEL name: text".
LOGGED = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR) mainspring: (.*)$")


class App:
    """One app in a subprocess, its output read line by line."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        env.pop("COVERAGE_PROCESS_START", None)
        self.process = subprocess.Popen(
            [sys.executable, str(APP), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        self._stderr.extend(self.process.stderr)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_for(self, wanted: str) -> None:
        """Read lines until ``wanted``; fail if it does not come in time."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self._queue.get(
                    timeout=max(0.0, deadline - time.monotonic())
                )
            except queue.Empty:
                pytest.fail(f"no {wanted!r} line in {WAIT}s: {self.lines}")
            if line is None:
                pytest.fail(
                    f"exited before {wanted!r}: {self.lines}\n{self.stderr}"
                )
            self.lines.append(line)
            if line == wanted:
                return

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def write(self, text: str) -> None:
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def finish(self) -> int:
        """Wait for the exit, read every line left, return the status."""
        status = self.process.wait(timeout=WAIT)
        while (line := self._queue.get(timeout=WAIT)) is not None:
            self.lines.append(line)
        return status

    def stops(self) -> list[str]:
        """Every line about a stop, in order."""
        return [line for line in self.lines if line.startswith("STOP")]

    def logged(self) -> list[tuple[str, str]]:
        """The level and message of each line the container logged."""
        found = (LOGGED.search(line) for line in self.stderr.splitlines())
        return [m.groups() for m in found if m is not None]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        # The readers end at end of file, once the process has exited.
        for reader in self._readers:
            reader.join(WAIT)
        for stream in (
            self.process.stdin,
            self.process.stdout,
            self.process.stderr,
        ):
            stream.close()


@pytest.fixture
def run_app():
    """Start apps; kill any still running when the test ends."""
    apps: list[App] = []

    def start(*args: str) -> App:
        app = App(*args)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.close()


def stopped(*names: str) -> list[str]:
    """The lines of services stopped one after the other, in this order."""
    return [f"{verb} {n}" for n in names for verb in ("STOPPING", "STOPPED")]


def error_line(app: App) -> str:
    return next(line for line in app.lines if line.startswith("ERROR"))


# During start


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_signal_during_start_rolls_back_and_fails(run_app, signum):
    """S3 is starting: S2 and S1 are stopped, in that order; exit status 1."""
    app = run_app("start", "async")
    app.wait_for("READY")

    app.send(signum)
    status = app.finish()

    assert status == 1
    assert app.stops() == stopped("S2", "S1")
    assert "STARTED S3" not in app.lines
    assert error_line(app) == (
        f"ERROR StartupError service=None start interrupted by "
        f"{signum.name}; started services were stopped"
    )


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_sync_start_in_flight_finishes_then_is_rolled_back(run_app, signum):
    """A sync start cannot be cancelled: once it returns, it is stopped too."""
    app = run_app("start", "sync")
    app.wait_for("READY")

    app.send(signum)
    app.write("go\n")
    status = app.finish()

    assert status == 1
    assert "STARTED S3" in app.lines
    assert app.stops() == stopped("S3", "S2", "S1")
    assert error_line(app).startswith(
        f"ERROR StartupError service=None start interrupted by {signum.name}"
    )


def test_sigint_during_a_with_block_start_rolls_back(run_app):
    """Under ``with``, SIGINT rolls the start back, then interrupts."""
    app = run_app("with-start")
    app.wait_for("READY")

    app.send(signal.SIGINT)
    status = app.finish()

    assert status == 130
    assert app.stops() == stopped("S2", "S1")
    assert "UNREACHABLE" not in app.lines
    assert error_line(app) == "ERROR KeyboardInterrupt"


# Only run() handles SIGTERM: under `with`, Python's default ends the
# process at once, as for any program that does not ask otherwise, so a
# bare SIGTERM during a `with` start is not a case for the library.


def test_sigterm_made_into_system_exit_during_a_with_block_start_rolls_back(
    run_app,
):
    """An app that turns SIGTERM into SystemExit unwinds as on Ctrl-C."""
    app = run_app("with-start-exit")
    app.wait_for("READY")

    app.send(signal.SIGTERM)
    status = app.finish()

    assert status == 143
    assert error_line(app) == "ERROR SystemExit 143"
    assert app.stops() == stopped("S2", "S1")
    assert "Task was destroyed but it is pending" not in app.stderr


# Steady state


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_signal_while_running_stops_cleanly(run_app, signum):
    """Everything started: stop in reverse, exit status 0."""
    app = run_app("steady")
    app.wait_for("READY")

    app.send(signum)
    status = app.finish()

    assert status == 0, app.stderr
    assert app.stops() == stopped("S3", "S2", "S1")
    assert app.lines[-1] == "EXIT clean"
    assert f"{signum.name} received: stopping" in app.stderr


# A second signal during a slow stop


@pytest.mark.parametrize(
    ("how", "first", "second"),
    list(itertools.product(["async", "sync"], SIGNALS, SIGNALS)),
    ids=lambda v: getattr(v, "name", v),
)
def test_a_second_signal_during_a_slow_stop_exits_at_once(
    run_app, how, first, second
):
    """The second signal decides: exit with 128 plus its number, mid-stop.

    S2's stop never returns, as a coroutine (``async``) or in a worker
    thread (``sync``), so only the immediate exit can end the process.
    """
    app = run_app("slow-stop", how)
    app.wait_for("READY")
    app.send(first)
    app.wait_for("STOPPING S2")

    app.send(second)
    status = app.finish()

    assert status == 128 + second
    assert app.stops() == [*stopped("S3"), "STOPPING S2"]
    # Each signal was seen once, and nothing was logged after the second.
    logged = app.logged()
    second_seen = f"second {second.name} during shutdown: exiting at once"
    assert logged[-1] == ("ERROR", second_seen)
    assert [m for _, m in logged if "received" in m or "second" in m] == [
        f"{first.name} received: stopping",
        second_seen,
    ]


# A run() body failing as a signal arrives


BODY_FAILED = "S2.run() failed: RuntimeError: body of S2 failed"


def check_body_failure_logged(app: App, signum: int, *, first: str) -> None:
    """One signal and one body failure were logged, ``first`` first."""
    logged = app.logged()
    received = ("INFO", f"{signum.name} received: stopping")
    failed = ("ERROR", "S2.run() failed")
    assert logged.count(received) == 1
    assert logged.count(failed) == 1
    assert not [m for _, m in logged if m.startswith("second")]
    events = [e for e in logged if e in {received, failed}]
    assert events == (
        [received, failed] if first == "signal" else [failed, received]
    )


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_body_failing_after_the_signal_fails_the_stop(run_app, signum):
    """The signal starts a clean stop; S2's body fails before it is reached.

    The failure is not lost: the stop, which began for the signal, ends in
    a ShutdownError that holds S2's failure, and the exit status is 1.
    """
    app = run_app("body-fails", "signal-first")
    app.wait_for("READY")

    app.send(signum)
    status = app.finish()

    assert status == 1, app.stderr
    assert app.stops() == stopped("S3", "S2", "S1")
    # S3's stop let the body fail: after the signal, before S2's stop.
    failing = app.lines.index("FAILING S2")
    assert app.lines[failing - 1 : failing + 2] == [
        "STOPPING S3",
        "FAILING S2",
        "STOPPED S3",
    ]
    assert error_line(app) == (
        f"ERROR ShutdownError stopping left failures in S2 {BODY_FAILED}"
    )
    check_body_failure_logged(app, signum, first="signal")


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_signal_during_the_stop_after_a_failed_body_changes_nothing(
    run_app, signum
):
    """S2's body fails and the stop begins; a first signal then arrives.

    The stop goes on to the end and run() raises ServiceFailedError for
    S2, as it would have without the signal: exit status 1, not 130 or 143.
    """
    app = run_app("body-fails", "body-first")
    app.wait_for("STOPPING S3")

    app.send(signum)
    status = app.finish()

    assert status == 1, app.stderr
    assert app.lines.index("FAILING S2") < app.lines.index("STOPPING S3")
    assert app.stops() == stopped("S3", "S2", "S1")
    assert error_line(app) == (
        f"ERROR ServiceFailedError service=S2 {BODY_FAILED}"
    )
    check_body_failure_logged(app, signum, first="body")


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_body_failing_when_cancelled_by_a_signal_is_reported(
    run_app, signum
):
    """A body that raises as the stop cancels it fails the shutdown."""
    app = run_app("body-fails-on-cancel")
    app.wait_for("READY")

    app.send(signum)
    status = app.finish()

    assert status == 1
    assert app.stops() == stopped("S3", "S2", "S1")
    assert error_line(app) == (
        "ERROR ShutdownError stopping left failures in S2 "
        "body of S2 refused to stop"
    )
