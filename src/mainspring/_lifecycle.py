"""Starting, supervising and stopping the singletons of a container.

Start: build every singleton, then start each service as soon as the
``start()`` of each of its dependencies has returned. Stop: walk the start
order backwards, one service at a time: cancel its ``run()`` body, call its
``stop()``, tear down its generator factory. Sync hooks run in worker
threads; async hooks and bodies share one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import heapq
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mainspring._generators import finish_async_generator, finish_generator
from mainspring._hooks import (
    ExitRequest,
    ExpiredError,
    Supervised,
    SyncStarts,
    SyncStop,
    SyncStops,
    as_failure,
    astatus_of,
    cancel_body,
    hook_of,
    is_async,
    status_of,
    step,
    within,
)
from mainspring._keys import describe
from mainspring._registry import INHERIT
from mainspring._threads import LoopThread, workers
from mainspring.exceptions import (
    NotRunningError,
    ServiceFailedError,
    ShutdownError,
    StartupError,
    StateError,
)

if TYPE_CHECKING:
    from mainspring._container import Container
    from mainspring._graph import Graph

_log = logging.getLogger("mainspring")


class Phase(enum.Enum):
    """Where a container is in its one life."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Lifecycle:
    """The lifecycle state of one container."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self.phase = Phase.NEW
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: LoopThread | None = None
        self._started: set[object] = set()
        self._bodies: dict[object, asyncio.Task[Any]] = {}
        self._stopping_bodies: set[object] = set()
        self._ended_bodies: set[object] = set()
        self._failures: dict[object, BaseException] = {}
        self._wake: asyncio.Event | None = None
        self._interrupted_rollback: list[BaseException] = []
        # The one stop walk, which every astop() awaits; its failures go
        # to the first caller still waiting when it ends.
        self._stop_task: asyncio.Task[None] | None = None
        self._stop_reported = False
        self._start_task: asyncio.Task[None] | None = None

    # Start

    async def astart(self) -> None:
        """Build every singleton, then start them; see Container.start."""
        graph = self._container.graph()
        self._begin(Phase.NEW, Phase.STARTING, "start")
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            await self._build_all(graph)
            await self._start_all(graph)
        except asyncio.CancelledError:
            rollback = await self._stop_all(graph)
            self._interrupted_rollback = [e for _, e in rollback]
            self.phase = Phase.STOPPED
            self._container.forget_instances()
            raise
        except BaseException:
            self.phase = Phase.STOPPED
            self._container.forget_instances()
            raise
        self.phase = Phase.RUNNING

    def _begin(self, expected: Phase, then: Phase, verb: str) -> None:
        with self._container._lock:  # noqa: SLF001 - one lock per container
            if self.phase is not expected:
                message = (
                    f"cannot {verb}: the container is {self.phase.value}; a "
                    "container runs once, so build a new one"
                )
                raise StateError(message)
            self.phase = then

    async def _build_all(self, graph: Graph) -> None:
        current = asyncio.current_task()
        before = current.cancelling() if current is not None else 0
        container = self._container
        nodes = graph.nodes
        for key in graph.order:
            if container.is_built(key):
                continue
            try:
                # In start order every dependency is built already, so a
                # sync provider needs no coroutine of its own.
                if nodes[key].is_async:
                    await container.abuild(key, graph)
                else:
                    container.build(key, graph)
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError) and (
                    current is None or current.cancelling() > before
                ):
                    raise  # the start itself was cancelled
                errors = [e for _, e in await self._stop_all(graph)]
                _log.error(
                    "building %s failed",
                    describe(key),
                    exc_info=exc,
                    extra={"mainspring_service": describe(key)},
                )
                message = f"{describe(key)} could not be built: {_line(exc)}"
                _raise_exit(as_failure(exc), errors)
                raise StartupError(message, key, errors) from exc

    async def _start_all(self, graph: Graph) -> None:
        starter = _Starter(self, graph)
        try:
            await starter.run()
        except asyncio.CancelledError:
            await starter.settle()
            raise
        if starter.failure is None:
            return
        key, error = starter.failure
        errors = starter.late + [e for _, e in await self._stop_all(graph)]
        if isinstance(error, ExpiredError):
            message = (
                f"{describe(key)} did not start within {error}s; started "
                "services were stopped"
            )
            cause: BaseException = TimeoutError(
                f"{describe(key)} did not start within {error}s"
            )
        else:
            message = (
                f"{describe(key)} failed to start: {_line(error)}; started "
                "services were stopped"
            )
            cause = error
        _log.error(
            "starting %s failed",
            describe(key),
            exc_info=cause,
            extra={"mainspring_service": describe(key)},
        )
        _raise_exit(error, errors)
        raise StartupError(message, key, errors) from cause

    def mark_started(self, key: object) -> None:
        """Record that ``key``'s start returned, and launch its body."""
        self._started.add(key)
        self._launch_body(key)

    def instance(self, key: object) -> Any:
        """The built singleton ``key``."""
        return self._container.instance(key)

    def _launch_body(self, key: object) -> None:
        body = getattr(self._container.instance(key), "run", None)
        if body is None or not is_async(body):
            return
        task = asyncio.ensure_future(Supervised(body()))
        self._bodies[key] = task
        task.add_done_callback(lambda task: self._body_ended(key, task))

    def _body_ended(self, key: object, task: asyncio.Task[Any]) -> None:
        if (
            key in self._stopping_bodies
            or key in self._ended_bodies
            or task.cancelled()
        ):
            return
        self._ended_bodies.add(key)
        error = task.exception()
        if error is None:
            _log.info(
                "%s.run() returned; the service keeps running",
                describe(key),
                extra={"mainspring_service": describe(key)},
            )
        else:
            self._failures[key] = error
            _log.error(
                "%s.run() failed",
                describe(key),
                exc_info=error,
                extra={"mainspring_service": describe(key)},
            )
        if self._wake is not None:
            self._wake.set()

    def timeout(self, key: object, which: str) -> float | None:
        """The start or stop budget of ``key``, in seconds or ``None``."""
        declaration = self._container.graph().nodes[key].declaration
        if which == "start":
            own, inherited = (
                declaration.start_timeout,
                self._container.start_timeout,
            )
        else:
            own, inherited = (
                declaration.stop_timeout,
                self._container.stop_timeout,
            )
        return inherited if own is INHERIT else own  # type: ignore[return-value]

    # Stop

    async def astop(self) -> None:
        """Stop every started service; see Container.stop.

        The walk runs in a task of its own, so that a ``run()`` body may ask
        for the stop that is about to cancel it. A call while a stop is
        under way waits for it; the failures go to one caller only.
        """
        with self._container._lock:  # noqa: SLF001
            phase = self.phase
            if phase is Phase.STARTING:
                message = "cannot stop while the container is starting"
                raise StateError(message)
            if phase is Phase.RUNNING and self.loop is not _running_loop():
                message = (
                    "astop() must run on the event loop the container was "
                    "started on; use stop() from other threads"
                )
                raise StateError(message)
            task = self._stop_task
            if task is None:
                if phase is Phase.STOPPED:
                    return  # a failed start was rolled back already
                self.phase = Phase.STOPPING
                task = self._stop_task = asyncio.ensure_future(
                    self._stop_everything()
                )
        if self._wake is not None:
            self._wake.set()  # run() stops serving
        try:
            await asyncio.shield(task)
        except BaseException:
            if not task.done():
                raise  # this caller was cancelled; the walk goes on
        error = task.exception()
        if error is not None and not self._stop_reported:
            self._stop_reported = True
            if isinstance(error, ExitRequest):
                raise error.exit
            raise error

    async def _stop_everything(self) -> None:
        graph = self._container.graph()
        errors = await self._stop_all(graph)
        self.phase = Phase.STOPPED
        self._container.forget_instances()
        failed: list[tuple[object, Exception]] = [
            (key, _body_failure(key, error))
            for key, error in self._failures.items()
        ]
        failed += errors
        if not failed:
            return
        for error in [*self._failures.values(), *(e for _, e in errors)]:
            if isinstance(error, ExitRequest):
                # Raised as error.exit by astop(), outside this task.
                _note_others(error.exit, [e for _, e in failed])
                raise error
        names = ", ".join(dict.fromkeys(describe(k) for k, _ in failed))
        raise ShutdownError(
            f"stopping left failures in {names}",
            [e for _, e in failed],
            [k for k, _ in failed],
        )

    async def _stop_all(self, graph: Graph) -> list[tuple[object, Exception]]:
        """The reverse walk, collecting every failure instead of raising.

        Consecutive services whose stop steps are all sync are stopped
        back to back in one worker thread (see SyncStops); the order is the
        same exact reverse either way.
        """
        errors: list[tuple[object, Exception]] = []
        teardowns = self._container.teardowns
        due = [
            key
            for key in reversed(graph.order)
            if key in self._started or key in self._bodies or key in teardowns
        ]
        position = 0
        while position < len(due):
            run: list[SyncStop] = []
            while position < len(due):
                stop = self._sync_stop(due[position])
                if stop is None:
                    break
                run.append(stop)
                position += 1
            if run:
                errors += await self._stop_sync_run(run)
            else:
                errors += await self._stop_one(due[position])
                position += 1
        for key, teardown in self._container.deferred_teardowns:
            try:
                await within(None, _teardown_step(key, teardown))
            except Exception as exc:
                errors.append((key, _tag(exc, key, "tearing down")))
        self._container.deferred_teardowns.clear()
        return errors

    def _steps(self, key: object) -> list[tuple[str, Callable[[], Any]]]:
        """Take ``key``'s stop steps: cancel its body, stop it, tear down."""
        steps: list[tuple[str, Callable[[], Any]]] = []
        body = self._bodies.pop(key, None)
        if body is not None:
            if body.done():
                # Its done callback may still be queued: record a failure
                # now, or it would be taken for a body this stop cancelled.
                self._body_ended(key, body)
            else:
                steps.append(
                    (
                        "cancelling run() of",
                        functools.partial(cancel_body, body),
                    )
                )
        self._stopping_bodies.add(key)
        if key in self._started:
            hook = hook_of(self._container.instance(key), "stop")
            if hook is not None:
                steps.append(("stopping", hook))
        teardown = self._container.teardowns.pop(key, None)
        if teardown is not None:
            steps.append(("tearing down", _teardown_step(key, teardown)))
        return steps

    def _sync_stop(self, key: object) -> SyncStop | None:
        """``key``'s stop as a SyncStop, or None if a step is async."""
        body = self._bodies.get(key)
        if body is not None and not body.done():
            return None
        if key in self._started:
            hook = hook_of(self._container.instance(key), "stop")
            if hook is not None and is_async(hook):
                return None
        if hasattr(self._container.teardowns.get(key), "__anext__"):
            return None
        was_started = key in self._started
        steps = self._steps(key)
        self._started.discard(key)
        return SyncStop(key, self.timeout(key, "stop"), steps, was_started)

    async def _stop_sync_run(
        self, run: list[SyncStop]
    ) -> list[tuple[object, Exception]]:
        errors: list[tuple[object, Exception]] = []
        while run:
            stops = SyncStops(run)
            overran = await stops.run()
            for stop in run[: stops.done]:
                errors += _failures_of(stop, stop.seconds)
                if stop.was_started:
                    _log_done("stopped", stop.key, stop.seconds)
            if overran is None:
                break
            stop = run[overran]
            # What its earlier steps raised, before one of them overran.
            errors += _failures_of(stop, stop.budget or 0.0)
            message = (
                f"{describe(stop.key)} did not stop within {stop.budget}s"
            )
            errors.append((stop.key, TimeoutError(message)))
            _log.error(message, extra=_fields(stop.key, stop.budget or 0.0))
            run = run[overran + 1 :]
        return errors

    async def _stop_one(self, key: object) -> list[tuple[object, Exception]]:
        began = time.perf_counter()
        budget = self.timeout(key, "stop")
        errors: list[tuple[object, Exception]] = []
        was_started = key in self._started
        steps = self._steps(key)
        self._started.discard(key)
        deadline = None if budget is None else time.monotonic() + budget
        for verb, hook in steps:
            left = None if deadline is None else deadline - time.monotonic()
            try:
                await within(left, hook)
            except ExpiredError:
                message = f"{describe(key)} did not stop within {budget}s"
                errors.append((key, TimeoutError(message)))
                _log.error(message, extra=_fields(key, _since(began)))
                return errors
            except Exception as exc:
                errors.append((key, _tag(exc, key, verb)))
                _log.warning(
                    "%s %s failed",
                    verb,
                    describe(key),
                    exc_info=exc,
                    extra=_fields(key, _since(began)),
                )
        if was_started:
            _log_done("stopped", key, _since(began))
        return errors

    # Health

    def is_running(self, key: object) -> bool:
        """Tell whether ``key`` has started, is not stopped, and is healthy."""
        return (
            self.phase in {Phase.STARTING, Phase.RUNNING}
            and key in self._started
            and key not in self._failures
        )

    def _not_running(self, key: object) -> NotRunningError:
        failure = self._failures.get(key)
        if failure is not None:
            error = NotRunningError(key, "its run() body failed")
            error.__cause__ = failure
            return error
        reason = {
            Phase.NEW: "not started",
            Phase.STARTING: "still starting",
            Phase.STOPPING: "stopping",
            Phase.STOPPED: "stopped",
        }.get(self.phase, "not started")
        return NotRunningError(key, reason)

    def statuses(self) -> dict[object, BaseException | None]:
        """See Container.statuses."""
        results, sync, pending = self._checks(self._container.graph())
        for key, hook in sync.items():
            # Like every sync hook, in a worker thread: never in the
            # caller's thread, which may be the loop's.
            results[key] = workers.submit(
                functools.partial(status_of, hook)
            ).result()
        if pending:
            loop = self._running_on()
            if _running_loop() is loop:
                names = ", ".join(describe(k) for k in pending)
                message = (
                    f"the status() of {names} is async; inside the event "
                    "loop, use 'await container.astatuses()'"
                )
                raise StateError(message)
            checked = asyncio.run_coroutine_threadsafe(
                _check_all(pending), loop
            ).result()
            results.update(checked)
        return results

    async def astatuses(self) -> dict[object, BaseException | None]:
        """See Container.astatuses."""
        results, sync, pending = self._checks(self._container.graph())
        for key, hook in sync.items():
            results[key] = await asyncio.wrap_future(
                workers.submit(functools.partial(status_of, hook))
            )
        if pending:
            loop = self._running_on()
            if loop is asyncio.get_running_loop():
                results.update(await _check_all(pending))
            else:
                future = asyncio.run_coroutine_threadsafe(
                    _check_all(pending), loop
                )
                checked = await asyncio.wrap_future(future)
                results.update(checked)
        return results

    def _running_on(self) -> asyncio.AbstractEventLoop:
        """The loop the services run on (only asked while they run)."""
        if self.loop is None:  # pragma: no cover - running implies a loop
            message = "the container has no event loop"
            raise StateError(message)
        return self.loop

    def _checks(
        self, graph: Graph
    ) -> tuple[
        dict[object, BaseException | None],
        dict[object, Callable[[], Any]],
        dict[object, Callable[[], Any]],
    ]:
        """Sort the services for a health check.

        Returns the results known already (``None`` placeholders, in start
        order, and `NotRunningError` for services not running), then the
        sync and the async ``status()`` hooks still to run.
        """
        results: dict[object, BaseException | None] = {}
        sync: dict[object, Callable[[], Any]] = {}
        pending: dict[object, Callable[[], Any]] = {}
        for key in graph.order:
            if not self.is_running(key):
                results[key] = self._not_running(key)
                continue
            results[key] = None
            hook = hook_of(self._container.instance(key), "status")
            if hook is not None:
                (pending if is_async(hook) else sync)[key] = hook
        return results, sync, pending

    # The sync API: a private loop in a background thread.

    def start_in_thread(self) -> None:
        """Container.start: run astart on a private loop thread."""
        if self.phase is not Phase.NEW:
            self._begin(Phase.NEW, Phase.STARTING, "start")
        thread = LoopThread()
        try:
            thread.call(self.astart())
        except BaseException:
            try:
                if self.phase is Phase.RUNNING:
                    # An interrupt that reached this thread just after the
                    # start finished: stop what it started before leaving.
                    thread.call(self.astop())
            finally:
                thread.close()
            raise
        self._thread = thread

    def stop_in_thread(self) -> None:
        """Container.stop: run astop where the services run."""
        loop = self.loop
        if loop is not None and _running_loop() is loop:
            # Waiting here would block the very loop the stop runs on.
            message = (
                "inside the container's event loop, use "
                "'await container.astop()'"
            )
            raise StateError(message)
        thread, self._thread = self._thread, None
        if thread is not None:
            try:
                thread.call(self.astop())
            finally:
                thread.close()
        elif loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self.astop(), loop).result()
        elif self.phase is Phase.NEW:
            # Never started: nothing to stop, but built generator factories
            # still get their teardown.
            private = LoopThread()
            try:
                private.call(self.astop())
            finally:
                private.close()
        elif self.phase is Phase.RUNNING:
            # Started by astart() on a loop that has since ended: the hooks
            # and bodies belong to that loop, so nothing can stop them now.
            message = (
                "cannot stop: the event loop the container was started on "
                "has ended; use 'await container.astop()' before leaving "
                "that loop"
            )
            raise StateError(message)
        else:
            self.phase = Phase.STOPPED

    # run(): the application's main.

    def run(self) -> None:
        """See Container.run."""
        if not logging.getLogger().handlers and not _log.handlers:
            logging.basicConfig(
                level=logging.INFO,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        received: list[str] = []
        escaped: BaseException | None = None
        with asyncio.Runner() as runner:
            loop = runner.get_loop()
            main = loop.create_task(self._main(received))
            while True:
                try:
                    loop.run_until_complete(main)
                except BaseException as exc:
                    if main.done():
                        raise
                    # A task of the application's let SystemExit or the
                    # like out of the loop: stop as for a signal, then
                    # raise it.
                    escaped = escaped or exc
                    received.append(type(exc).__name__)
                    self._halt()
                    continue
                break
        if escaped is not None:
            raise escaped

    def _halt(self) -> None:
        """Interrupt the start, or end the serving, for a signal."""
        start = self._start_task
        if start is not None and not start.done():
            start.cancel()
        elif self._wake is not None:
            self._wake.set()

    async def _main(self, received: list[str]) -> None:
        loop = asyncio.get_running_loop()
        start = self._start_task = asyncio.ensure_future(self.astart())

        def on_signal(signum: int) -> None:
            name = signal.Signals(signum).name
            if received:
                _log.error("second %s during shutdown: exiting at once", name)
                _exit_now(128 + signum)
            received.append(name)
            _log.info("%s received: stopping", name)
            self._halt()

        installed = _install_signals(loop, on_signal)
        try:
            try:
                await start
            except asyncio.CancelledError:
                if not received:
                    raise
                name = received[0]
                message = (
                    f"start interrupted by {name}; started services were "
                    "stopped"
                )
                raise StartupError(
                    message, None, self._interrupted_rollback
                ) from None
            await self._serve(received)
            await self._stop_after_serving()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    async def _serve(self, received: list[str]) -> None:
        wake = self._wake or asyncio.Event()
        # A body may have asked for the stop (astop() sets the phase).
        while not received and self.phase is Phase.RUNNING:
            # A body that has just ended may not have run its done callback
            # yet; see how it ended before deciding whether all is well.
            for key, task in list(self._bodies.items()):
                if task.done():
                    self._body_ended(key, task)
            if self._failures:
                return
            bodies = self._bodies.values()
            if bodies and all(task.done() for task in bodies):
                _log.info("every run() body has ended: stopping")
                return
            await wake.wait()
            wake.clear()

    async def _stop_after_serving(self) -> None:
        failed = next(iter(self._failures.items()), None)
        try:
            await self.astop()
        except ShutdownError as exc:
            if failed is None:
                raise
            key, error = failed
            raise _with_notes(
                ServiceFailedError(key, error), exc, skip=key
            ) from error
        if failed is not None:  # pragma: no cover - astop raises for it
            raise ServiceFailedError(*failed) from failed[1]


class _Starter:
    """One start: each service begins once its dependencies have started.

    Ready services are launched in start-order position, so the order in
    which starts begin is the same in every run.
    """

    def __init__(self, lifecycle: Lifecycle, graph: Graph) -> None:
        self._lifecycle = lifecycle
        # Services by start-order position, in plain lists: a start touches
        # each service a few times, and a large graph outgrows the caches.
        order = self._order = graph.order
        position = {key: i for i, key in enumerate(order)}
        self._waiting = [0] * len(order)
        self._dependents: list[list[int] | None] = [None] * len(order)
        for i, key in enumerate(order):
            for dep in graph.deps[key]:
                j = position.get(dep)  # None: the container itself
                if j is not None:
                    dependents = self._dependents[j]
                    if dependents is None:
                        dependents = self._dependents[j] = []
                    dependents.append(i)
                    self._waiting[i] += 1
        # In ascending order, so already a heap.
        self._ready = [i for i, n in enumerate(self._waiting) if not n]
        self._finished: asyncio.Queue[object] = asyncio.Queue()
        self._in_flight: dict[
            object, tuple[asyncio.Future[Any], bool, float, int]
        ] = {}
        self._expired: dict[object, float] = {}
        self._sync = SyncStarts()
        self.failure: tuple[object, BaseException] | None = None
        self.late: list[BaseException] = []

    async def run(self) -> None:
        """Start everything, or stop launching at the first failure."""
        while True:
            self._launch_ready()
            if not self._in_flight:
                return
            key = await self._finished.get()
            task, _, began, position = self._in_flight.pop(key)
            error = _outcome(task)
            if key in self._expired:
                error = ExpiredError(self._expired.pop(key))
            if error is None:
                _log_done("started", key, _since(began))
                self._started(position)
            else:
                self._fail(key, error)

    async def settle(self) -> None:
        """After an interruption, let in-flight starts end before rollback.

        Async starts are cancelled; sync ones cannot be, so they are awaited,
        and one that returns counts as started so that rollback stops it.
        """
        self._cancel_async()
        for key, (task, _, began, _) in self._in_flight.items():
            with contextlib.suppress(BaseException):
                await task
            if _outcome(task) is None:
                _log_done("started", key, _since(began))
                self._lifecycle.mark_started(key)

    def _launch_ready(self) -> None:
        while self._ready and self.failure is None:
            position = heapq.heappop(self._ready)
            key = self._order[position]
            hook = hook_of(self._lifecycle.instance(key), "start")
            if hook is None:
                _log_done("started", key, 0.0)
                self._started(position)
                continue
            began = time.perf_counter()
            task: asyncio.Future[Any] | None
            if is_async(hook):
                try:
                    task = step(hook)
                except (Exception, asyncio.CancelledError) as exc:
                    self._fail(key, exc)
                    return
                if task is None:  # finished without waiting
                    _log_done("started", key, _since(began))
                    self._started(position)
                    continue
                self._expire_at(key, task, began)
            else:
                budget = self._lifecycle.timeout(key, "start")
                task = self._sync.submit(hook, budget)
            task.add_done_callback(
                functools.partial(_report_to, self._finished, key)
            )
            self._in_flight[key] = (task, is_async(hook), began, position)

    def _started(self, position: int) -> None:
        self._lifecycle.mark_started(self._order[position])
        waiting = self._waiting
        for dependent in self._dependents[position] or ():
            waiting[dependent] -= 1
            if not waiting[dependent]:
                heapq.heappush(self._ready, dependent)

    def _expire_at(
        self, key: object, task: asyncio.Future[Any], began: float
    ) -> None:
        budget = self._lifecycle.timeout(key, "start")
        if budget is None:
            return
        handle = asyncio.get_running_loop().call_later(
            budget - _since(began), self._expire, key, task, budget
        )
        task.add_done_callback(lambda _: handle.cancel())

    def _expire(
        self, key: object, task: asyncio.Future[Any], budget: float
    ) -> None:
        if not task.done():
            self._expired[key] = budget
            task.cancel()

    def _fail(self, key: object, error: BaseException) -> None:
        if self.failure is None:
            self.failure = (key, error)
            self._cancel_async()
        elif not isinstance(error, asyncio.CancelledError):
            error.add_note(f"while starting {describe(key)}")
            self.late.append(error)

    def _cancel_async(self) -> None:
        self._sync.drop_queued()
        for task, is_coroutine, _, _ in self._in_flight.values():
            if is_coroutine:
                task.cancel()


# Helpers


def _failures_of(
    stop: SyncStop, seconds: float
) -> list[tuple[object, Exception]]:
    """Tag and log the failures of a sync stop's steps, for its errors."""
    failures = []
    # A copy: the thread of a stop that overran may still be adding.
    for verb, exc in list(stop.failures):
        failures.append((stop.key, _tag(exc, stop.key, verb)))
        _log.warning(
            "%s %s failed",
            verb,
            describe(stop.key),
            exc_info=exc,
            extra=_fields(stop.key, seconds),
        )
    return failures


def _raise_exit(error: BaseException, others: Sequence[BaseException]) -> None:
    """After a rollback, raise the SystemExit (or the like) a hook raised."""
    if isinstance(error, ExitRequest):
        _note_others(error.exit, others)
        raise error.exit


def _note_others(exit: BaseException, others: Sequence[BaseException]) -> None:  # noqa: A002
    for other in others:
        if other is not exit and other.__cause__ is not exit:
            exit.add_note(f"also: {_line(other)}")


def _report_to(
    queue: asyncio.Queue[object], key: object, _: asyncio.Future[Any]
) -> None:
    queue.put_nowait(key)


def _outcome(task: asyncio.Future[Any]) -> BaseException | None:
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception()


def _body_failure(key: object, error: BaseException) -> ServiceFailedError:
    failure = ServiceFailedError(key, error)
    failure.__cause__ = error
    return failure


def _tag(error: Exception, key: object, verb: str) -> Exception:
    error.add_note(f"while {verb} {describe(key)}")
    return error


def _with_notes(
    error: ServiceFailedError, group: ShutdownError, skip: object
) -> ServiceFailedError:
    for key, member in zip(group.services, group.exceptions, strict=True):
        if key is skip and isinstance(member, ServiceFailedError):
            continue
        error.add_note(f"while stopping {describe(key)}: {_line(member)}")
    return error


def _line(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _since(began: float) -> float:
    return time.perf_counter() - began


def _fields(key: object, seconds: float) -> dict[str, object]:
    return {"mainspring_service": describe(key), "mainspring_seconds": seconds}


def _log_done(verb: str, key: object, seconds: float) -> None:
    if _log.isEnabledFor(logging.INFO):
        _log.info(
            "%s %s in %.1f ms",
            verb,
            describe(key),
            seconds * 1000,
            extra=_fields(key, seconds),
        )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _install_signals(
    loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]
) -> list[int]:
    installed: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, handler, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            _log.debug("cannot handle %s here", signum.name)
            continue
        installed.append(signum)
    return installed


def _exit_now(status: int) -> None:
    """Leave the process at once, flushing what was logged first."""
    for handler in logging.getLogger().handlers + _log.handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
        sys.stdout.flush()
    os._exit(status)


async def _check_all(
    hooks: dict[object, Callable[[], Any]],
) -> dict[object, BaseException | None]:
    results = await asyncio.gather(*(astatus_of(h) for h in hooks.values()))
    return dict(zip(hooks, results, strict=True))


def _teardown_step(key: object, generator: Any) -> Callable[[], Any]:
    """The teardown of a generator factory, as a hook: async or sync."""
    if hasattr(generator, "__anext__"):
        return functools.partial(finish_async_generator, generator, key)
    return functools.partial(finish_generator, generator, key)
