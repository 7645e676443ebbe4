"""Small applications that the fault tests run in their own processes.

Run as ``python _fault_apps.py APP [ARGS...]``. Each app prints one line
per event worth checking, flushed at once, so that the test reading its
output can wait for a line (``READY``, ``STOPPING S1``) before it sends a
signal; lines are the only synchronisation between the two processes.

Apps:

- ``order``: reads graphs as JSON on stdin and prints the start order of
  each, for the hash-seed test.
- ``start``, ``steady``, ``slow-stop``, ``body-fails``,
  ``body-fails-on-cancel``, ``with-start``, ``with-start-exit``: see
  `APPS`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable

from mainspring import (
    Container,
    ServiceFailedError,
    ShutdownError,
    StartupError,
)

_P = inspect.Parameter


def say(*words: object) -> None:
    """Print one line for the test, at once."""
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


# order: the start order computed in this process.


def _plain_class(name: str, deps: list[type]) -> type:
    names = [f"s{i}" for i in range(len(deps))]

    def __init__(self, *args):  # noqa: N807 - becomes __init__
        self.args = args

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_P("self", _P.POSITIONAL_OR_KEYWORD)]
        + [_P(n, _P.POSITIONAL_OR_KEYWORD) for n in names]
    )
    __init__.__annotations__ = dict(zip(names, deps, strict=True))
    return type(name, (), {"__init__": __init__, "__qualname__": name})


def order_app() -> None:
    """Print, as JSON, the start order of every graph read from stdin."""
    orders = []
    for graph in json.load(sys.stdin):
        classes: list[type] = []
        for index, deps in enumerate(graph["deps"]):
            classes.append(
                _plain_class(f"S{index}", [classes[d] for d in deps])
            )
        container = Container(*(classes[i] for i in graph["registration"]))
        orders.append([key.__qualname__ for key in container.order])
    say(json.dumps(orders))


# Lifecycle apps: every service says what happens to it.


def _service(
    name: str,
    deps: list[type],
    *,
    start: Callable[[], object] | None = None,
    stop: Callable[[], object] | None = None,
    body: Callable[[], object] | None = None,
) -> type:
    """A service class whose hooks announce themselves, then run ``start``."""

    def __init__(self, *args):  # noqa: N807 - becomes __init__
        self.args = args

    names = [f"s{i}" for i in range(len(deps))]
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_P("self", _P.POSITIONAL_OR_KEYWORD)]
        + [_P(n, _P.POSITIONAL_OR_KEYWORD) for n in names]
    )
    __init__.__annotations__ = dict(zip(names, deps, strict=True))

    async def start_hook(self):
        say("START", name)
        if start is not None:
            await start()
        say("STARTED", name)

    async def stop_hook(self):
        say("STOPPING", name)
        if stop is not None:
            await stop()
        say("STOPPED", name)

    namespace = {
        "__init__": __init__,
        "__qualname__": name,
        "start": start_hook,
        "stop": stop_hook,
    }
    if body is not None:

        async def run(self):
            await body()

        namespace["run"] = run
    return type(name, (), namespace)


async def _forever() -> None:
    await asyncio.Event().wait()


def _blocking_forever() -> None:
    # A sync stop hook that never returns: the worker thread stays blocked.
    threading.Event().wait()


async def _ready_then_wait() -> None:
    say("READY")
    await _forever()


def start_app(how: str) -> Container:
    """S1 and S2 start; S3 is still starting when the signal comes.

    ``how`` is ``async``: S3's start awaits forever, so the signal cancels
    it; or ``sync``: S3's start blocks in a worker thread until the test
    writes a line to stdin (after its signal), so it finishes and must be
    rolled back with the others.
    """
    s1 = _service("S1", [])
    s2 = _service("S2", [s1], body=_forever)
    if how == "async":

        async def hang() -> None:
            say("READY")
            await _forever()

        s3 = _service("S3", [s2], start=hang)
    else:
        s3 = _service("S3", [s2])

        def blocking_start(self) -> None:
            say("START", "S3")
            say("READY")
            sys.stdin.readline()
            say("STARTED", "S3")

        s3.start = blocking_start
    return Container(s1, s2, s3, start_timeout=None)


def steady_app() -> Container:
    """Three services in a chain; the last one's body says READY."""
    s1 = _service("S1", [])
    s2 = _service("S2", [s1], body=_forever)
    s3 = _service("S3", [s2], body=_ready_then_wait)
    return Container(s1, s2, s3)


def slow_stop_app(how: str) -> Container:
    """S2's stop never returns, as a coroutine or in a worker thread."""
    s1 = _service("S1", [])
    if how == "async":
        s2 = _service("S2", [s1], stop=_forever)
    else:

        def blocking_stop(self) -> None:
            say("STOPPING", "S2")
            _blocking_forever()

        s2 = _service("S2", [s1])
        s2.stop = blocking_stop
    s3 = _service("S3", [s2], body=_ready_then_wait)
    return Container(s1, s2, s3, stop_timeout=None)


class _WhenLogged(logging.Filter):
    """Calls ``then`` when the container logs a message ending in ``ending``.

    A filter rather than a handler: ``run()`` still sets up its own logging
    to stderr, which it does only when no handler is installed.
    """

    def __init__(self, ending: str, then: Callable[[], object]) -> None:
        super().__init__()
        self._ending = ending
        self._then = then

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().endswith(self._ending):
            self._then()
        return True


def body_fails_app(order: str) -> Container:
    """S2's body fails on one side of the signal that the test sends.

    ``signal-first``: S3's body says READY and the test sends its signal.
    The stop that follows reaches S3 first, whose stop() lets S2's body fail
    and waits until it has: the body fails after the signal, before the
    stop reaches S2. ``body-first``: S2's body fails once S3's body runs,
    which starts the stop; S3's stop() says STOPPING S3 and waits until the
    container has logged the signal that the test sends on that line.
    Each wait is on an event set by the other side, never a sleep.
    """
    fail, failed, running = asyncio.Event(), asyncio.Event(), asyncio.Event()
    signalled = asyncio.Event()
    logging.getLogger("mainspring").addFilter(
        _WhenLogged(" received: stopping", signalled.set)
    )

    async def s2_body() -> None:
        if order == "signal-first":
            await fail.wait()
        else:
            await running.wait()
        say("FAILING S2")
        failed.set()
        message = "body of S2 failed"
        raise RuntimeError(message)

    async def s3_body() -> None:
        running.set()
        if order == "signal-first":
            say("READY")
        await _forever()

    async def s3_stop() -> None:
        if order == "signal-first":
            fail.set()
            await failed.wait()
        else:
            await signalled.wait()

    s1 = _service("S1", [])
    s2 = _service("S2", [s1], body=s2_body)
    s3 = _service("S3", [s2], stop=s3_stop, body=s3_body)
    return Container(s1, s2, s3)


def body_fails_on_cancel_app() -> Container:
    """S2's body raises instead of ending when it is cancelled at stop."""

    async def stubborn() -> None:
        say("READY")
        try:
            await _forever()
        except asyncio.CancelledError:
            message = "body of S2 refused to stop"
            raise RuntimeError(message) from None

    s1 = _service("S1", [])
    s2 = _service("S2", [s1], body=stubborn)
    s3 = _service("S3", [s2])
    return Container(s1, s2, s3)


def with_app() -> Container:
    """The start app in the async shape, for ``with container:``."""
    return start_app("async")


def with_exit_app() -> Container:
    """The ``with`` start app, where SIGTERM raises SystemExit.

    Python ends the process on SIGTERM without unwinding anything; turning
    it into SystemExit is how an application asks for the same unwinding as
    on Ctrl-C.
    """

    def leave(signum: int, frame: object) -> None:
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
    return start_app("async")


APPS: dict[str, Callable[..., Container]] = {
    "start": start_app,
    "steady": steady_app,
    "slow-stop": slow_stop_app,
    "body-fails": body_fails_app,
    "body-fails-on-cancel": body_fails_on_cancel_app,
    "with-start": with_app,
    "with-start-exit": with_exit_app,
}


def run(container: Container) -> int:
    """Run ``container``; say how run() ended and return the exit status."""
    try:
        container.run()
    except StartupError as exc:
        say("ERROR StartupError", f"service={exc.service!r}", str(exc))
    except ServiceFailedError as exc:
        say(
            "ERROR ServiceFailedError",
            f"service={exc.service.__qualname__}",
            str(exc),
        )
    except ShutdownError as exc:
        say("ERROR ShutdownError", exc.message, *map(str, exc.exceptions))
    else:
        say("EXIT clean")
        return 0
    return 1


def run_with(container: Container) -> int:
    """Use the sync API, where SIGINT is a KeyboardInterrupt."""
    try:
        with container:
            say("UNREACHABLE")
    except KeyboardInterrupt:
        say("ERROR KeyboardInterrupt")
        return 130
    except SystemExit as exc:
        say("ERROR SystemExit", exc.code)
        raise
    return 0


def main(argv: list[str]) -> int:
    """Run the app named by ``argv[0]``."""
    name, *args = argv
    if name == "order":
        order_app()
        return 0
    container = APPS[name](*args)
    if name.startswith("with-"):
        return run_with(container)
    return run(container)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
