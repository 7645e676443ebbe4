"""Running hooks: async ones on the loop, sync ones in worker threads.

Each hook runs within a budget. An async hook is first stepped in place:
most ``start()`` and ``stop()`` bodies finish without waiting, and those
need no task and no timer. Only a hook that suspends gets a task (in the
same context copy) and a timeout.
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import contextvars
import inspect
import math
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mainspring._keys import describe
from mainspring._threads import workers


class ExpiredError(Exception):
    """A hook overran its budget (unlike a TimeoutError the hook raised)."""


class ExitRequest(Exception):  # noqa: N818 - a request, not an error
    """A hook or body raised SystemExit, KeyboardInterrupt or the like.

    Such an exception would tear through the event loop and leave services
    running. It travels as this ordinary failure instead, so that the
    container stops (or rolls back) everything first; then ``exit`` is
    raised again, and the process leaves as it asked.
    """

    def __init__(self, exit: BaseException) -> None:  # noqa: A002
        super().__init__(f"{type(exit).__name__} raised")
        self.exit = exit


class CancelledHookError(RuntimeError):
    """A hook raised CancelledError although nothing cancelled it."""


_STRAY_CANCEL = (
    "raised CancelledError, though the container did not cancel it; catch "
    "the CancelledError of a task the hook cancels itself"
)


def as_failure(error: BaseException) -> Exception:
    """``error`` as an ordinary exception the lifecycle can collect."""
    if isinstance(error, Exception):
        return error
    if isinstance(error, asyncio.CancelledError):
        failure: Exception = CancelledHookError(_STRAY_CANCEL)
    else:
        failure = ExitRequest(error)
    failure.__cause__ = error
    return failure


def _converted(error: BaseException) -> Exception:
    """Replace an exception that must not reach the event loop as is."""
    request = ExitRequest(error)
    request.__cause__ = error
    return request


def hook_of(instance: object, name: str) -> Callable[[], Any] | None:
    """The hook ``name`` of a service, if it has one."""
    hook = getattr(instance, name, None)
    return hook if callable(hook) else None


def is_async(function: Callable[..., Any]) -> bool:
    """Tell an ``async def`` hook from a sync one."""
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    if code is None:  # a partial, a callable object: ask inspect
        return inspect.iscoroutinefunction(function)
    return bool(code.co_flags & inspect.CO_COROUTINE)


def step(
    hook: Callable[[], Coroutine[Any, Any, Any]],
) -> asyncio.Task[Any] | None:
    """Start an async hook in place; return a task only if it suspends.

    The task runs the hook itself, in the same context copy as its first
    step, so a cancellation (even one that comes before the task's first
    turn) reaches the hook where it waits. Raises what the hook raises
    before its first suspension.
    """
    coroutine = hook()
    context = contextvars.copy_context()
    try:
        first = context.run(coroutine.send, None)
    except StopIteration:
        return None
    except (Exception, asyncio.CancelledError):
        raise
    except BaseException as exc:
        raise _converted(exc) from exc
    return asyncio.get_running_loop().create_task(
        _Stepped(coroutine, first), context=context
    )


class _Stepped(collections.abc.Coroutine[Any, Any, Any]):
    """A coroutine already stepped once, handed to a task to carry on.

    Its first ``send`` hands back what the coroutine's first step yielded;
    everything else goes straight to the coroutine.
    """

    __slots__ = ("_coroutine", "_first")

    def __init__(
        self, coroutine: Coroutine[Any, Any, Any], first: Any
    ) -> None:
        self._coroutine = coroutine
        self._first: Any = first

    def send(self, value: Any) -> Any:
        first, self._first = self._first, _SENT
        if first is not _SENT:
            return first
        return _guarded(self._coroutine.send, value)

    def throw(self, error: Any, *_: Any) -> Any:
        self._first = _SENT
        return _guarded(self._coroutine.throw, error)

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Generator[Any, Any, Any]:  # pragma: no cover
        return (yield from self._coroutine.__await__())


_SENT: Any = object()


def _guarded(advance: Callable[[Any], Any], value: Any) -> Any:
    """Advance a coroutine; a SystemExit or the like becomes a failure.

    A task re-raises such an exception out of the event loop itself, which
    would stop the loop with services still running on it.
    """
    try:
        return advance(value)
    except (Exception, StopIteration, asyncio.CancelledError):
        raise
    except BaseException as exc:
        raise _converted(exc) from exc


class Supervised(collections.abc.Coroutine[Any, Any, Any]):
    """A ``run()`` body as a task runs it, SystemExit and all made failures.

    See `_guarded`.
    """

    __slots__ = ("_coroutine",)

    def __init__(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self._coroutine = coroutine

    def send(self, value: Any) -> Any:
        return _guarded(self._coroutine.send, value)

    def throw(self, error: Any, *_: Any) -> Any:
        return _guarded(self._coroutine.throw, error)

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Generator[Any, Any, Any]:  # pragma: no cover
        return (yield from self._coroutine.__await__())


def call_sync(hook: Callable[[], Any]) -> None:
    """Call a sync hook (in a worker thread), refusing a returned awaitable.

    A SystemExit or the like comes back as an `ExitRequest`: the future of
    a worker would hand it to the event loop, which it would stop.
    """
    try:
        result = hook()
    except (Exception, asyncio.CancelledError):
        raise
    except BaseException as exc:
        raise _converted(exc) from exc
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        message = (
            f"{describe(hook)} is a plain function that returned an "
            "awaitable; declare it 'async def'"
        )
        raise TypeError(message)


async def within(seconds: float | None, hook: Callable[[], Any]) -> None:
    """Run a hook, raising `ExpiredError` if it overruns ``seconds``.

    A CancelledError that does not come from cancelling the caller is the
    hook's own doing (it awaited a task it had cancelled, say): it is
    raised as `CancelledHookError`, a failure like any other, so that the
    stop walk goes on.
    """
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    try:
        await _within(seconds, hook)
    except asyncio.CancelledError as exc:
        if current is not None and current.cancelling() > before:
            raise
        raise CancelledHookError(_STRAY_CANCEL) from exc


async def _within(seconds: float | None, hook: Callable[[], Any]) -> None:
    in_thread = not is_async(hook)
    waiting: asyncio.Future[Any]
    if in_thread:
        waiting = asyncio.wrap_future(workers.submit(lambda: call_sync(hook)))
    else:
        task = step(hook)
        if task is None:
            return
        waiting = task
    if seconds is None:
        await waiting
        return
    scope = asyncio.timeout(max(seconds, 0))
    try:
        async with scope:
            await waiting
    except TimeoutError:
        if not scope.expired():
            raise
        if in_thread:
            workers.abandon()  # its thread is still busy with the hook
        raise ExpiredError(seconds) from None


async def cancel_body(task: asyncio.Task[Any]) -> None:
    """Cancel a run() body and wait for it; its own failure is reported."""
    if task.done():
        return
    # A rollback after an interrupted start runs in a task that was already
    # cancelled: only a cancellation that arrives while waiting here (a
    # timeout, another interruption) is ours to pass on.
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if current is not None and current.cancelling() > before:
            raise


def status_of(hook: Callable[[], Any]) -> BaseException | None:
    """Run a sync status hook: ``None`` when healthy, else what it raised.

    Whatever it raises is its answer, a SystemExit included: a health
    check reports, it does not end the process.
    """
    try:
        hook()
    except BaseException as exc:
        return exc
    return None


async def astatus_of(hook: Callable[[], Any]) -> BaseException | None:
    """Await an async status hook: ``None`` when healthy, else the error.

    As `status_of`, except that a cancellation of the check is passed on.
    """
    try:
        await hook()
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return exc
    return None


# Stopping a run of services whose steps are all sync, in one thread.


@dataclass(slots=True)
class SyncStop:
    """One service's sync stop steps, and how they went."""

    key: object
    budget: float | None
    steps: Sequence[tuple[str, Callable[[], Any]]]
    was_started: bool
    failures: list[tuple[str, Exception]] = field(default_factory=list)
    seconds: float = 0.0


class SyncStops:
    """Run consecutive sync stops back to back in one worker thread.

    A thread round trip per hook would cost more than most stop hooks; a
    whole run of them takes one. The loop still enforces each service's
    budget: it reads which stop is under way and since when, and wakes at
    that stop's deadline (or, for a stop without budget, when it ends). A
    stop that overruns leaves the thread to it; the caller goes on with the
    stops after it in a fresh thread.
    """

    def __init__(self, stops: Sequence[SyncStop]) -> None:
        self.stops = stops
        self.done = 0  # how many stops have finished
        self._current = (0, time.monotonic())
        self._abandoned = False
        self._loop = asyncio.get_running_loop()
        self._progress: asyncio.Future[None] | None = None
        # When the loop will next wake by itself (see _work); the worker
        # reads it after recording a stop as done, and the loop sets it
        # before checking that, so neither misses the other.
        self._wake_at = 0.0

    def _work(self) -> None:
        for index, stop in enumerate(self.stops):
            if self._is_abandoned():
                return
            began = time.monotonic()
            self._current = (index, began)
            for verb, function in stop.steps:
                if self._is_abandoned():
                    # This stop overran while a step ran: the steps after
                    # it are skipped, as its budget says.
                    return
                try:
                    function()
                except BaseException as exc:  # see call_sync
                    stop.failures.append((verb, as_failure(exc)))
            stop.seconds = time.monotonic() - began
            self.done = index + 1
            if self.done < len(self.stops) and not self._is_abandoned():
                # The loop sleeps until _wake_at: wake it only if the next
                # stop's deadline comes sooner, so that a run of stops with
                # the same budget costs no wake-up at all.
                upcoming = self.stops[self.done].budget
                deadline = (
                    math.inf
                    if upcoming is None
                    else time.monotonic() + upcoming
                )
                if deadline < self._wake_at:
                    self._loop.call_soon_threadsafe(self._advance)

    def _is_abandoned(self) -> bool:
        # A call, not the attribute: the loop's thread sets it while this
        # thread runs, which a type checker's narrowing cannot know.
        return self._abandoned

    def _advance(self) -> None:
        if self._progress is not None and not self._progress.done():
            self._progress.set_result(None)

    async def run(self) -> int | None:
        """Run the stops; return the index of one that overran, if any."""
        finished = asyncio.wrap_future(workers.submit(self._work))
        while not finished.done():
            index, began = self._current
            if self.done > index:
                # The worker is past stop ``index``: between two stops, or
                # done with all of them, in which case only the loop can
                # mark ``finished`` done. Either way, give the loop a turn.
                if self.done == len(self.stops):
                    break
                await asyncio.sleep(0)
                continue
            budget = self.stops[index].budget
            if budget is None:
                self._wake_at = math.inf
                self._progress = self._loop.create_future()
                if self.done <= index:
                    await asyncio.wait(
                        {finished, self._progress},
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                continue
            left = began + budget - time.monotonic()
            if left > 0:
                self._wake_at = began + budget
                self._progress = self._loop.create_future()
                if self.done <= index:
                    await asyncio.wait(
                        {finished, self._progress},
                        timeout=left,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
            elif self._current == (index, began) and self.done <= index:
                self._abandoned = True
                workers.abandon()
                return index
        await finished
        return None


# Starting sync services: many at once, in few thread round trips.


class SyncStarts:
    """Run sync start() hooks in worker threads, reporting in batches.

    Up to ``workers`` hooks run at once, each thread taking the next ready
    hook as soon as it is free. Threads tell the loop when a hook begins
    and ends through one shared queue, waking the loop only when it is not
    already due to read it, so a thousand quick starts cost a few dozen
    wake-ups rather than a thousand. A start's budget counts from when its
    hook begins; one that overruns fails with `ExpiredError` and its
    thread is left to it.
    """

    def __init__(self, limit: int = 32) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit
        self._runners = 0
        self._jobs: collections.deque[_Job] = collections.deque()
        self._events: collections.deque[tuple[_Job, bool]] = (
            collections.deque()
        )
        self._lock = threading.Lock()
        self._draining = False

    def submit(
        self, hook: Callable[[], Any], budget: float | None
    ) -> asyncio.Future[None]:
        """Queue a sync start; the future ends when the hook does."""
        job = _Job(hook, budget, self._loop.create_future())
        self._jobs.append(job)
        with self._lock:
            if self._runners < self._limit:
                self._runners += 1
                workers.submit(self._run)
        return job.future

    def drop_queued(self) -> None:
        """Forget the hooks that have not begun: no start after a failure."""
        while self._jobs:
            job = self._jobs.pop()
            job.future.cancel()

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.popleft()
            except IndexError:
                with self._lock:
                    if self._jobs:  # appended while this thread stopped
                        continue
                    self._runners -= 1
                    return
            if job.future.cancelled():
                continue
            self._tell(job, finished=False)
            try:
                call_sync(job.hook)
            except (Exception, asyncio.CancelledError) as exc:
                job.error = exc
            self._tell(job, finished=True)
            if job.is_abandoned:
                return  # a fresh thread took this one's place

    def _tell(self, job: _Job, *, finished: bool) -> None:
        self._events.append((job, finished))
        with self._lock:
            if self._draining:
                return
            self._draining = True
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            self._draining = False
        while self._events:
            job, finished = self._events.popleft()
            if job.future.done():
                continue
            if not finished:
                if job.budget is not None:
                    job.timer = self._loop.call_at(
                        self._loop.time() + job.budget, self._expire, job
                    )
                continue
            if job.timer is not None:
                job.timer.cancel()
            if job.error is None:
                job.future.set_result(None)
            else:
                job.future.set_exception(job.error)

    def _expire(self, job: _Job) -> None:
        if job.future.done():
            return
        job.is_abandoned = True
        job.future.set_exception(ExpiredError(job.budget))
        workers.abandon()
        with self._lock:
            # The stuck thread no longer counts: let another take the queue.
            self._runners -= 1
            if self._jobs and self._runners < self._limit:
                self._runners += 1
                workers.submit(self._run)


@dataclass(slots=True, eq=False)
class _Job:
    hook: Callable[[], Any]
    budget: float | None
    future: asyncio.Future[None]
    error: BaseException | None = None
    timer: asyncio.TimerHandle | None = None
    is_abandoned: bool = False
