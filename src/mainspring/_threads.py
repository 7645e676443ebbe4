"""Worker threads for sync hooks, and the private event loop thread.

Sync hooks run in daemon threads of our own rather than in asyncio's
default executor: a hook that hangs past its timeout cannot be interrupted,
and a non-daemon thread would then keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")

_IDLE_SECONDS = 30.0


class Workers:
    """A growing pool of daemon threads, at most ``limit`` busy at once.

    A hook that overran its timeout still occupies its thread; `abandon`
    raises the limit by one so that it does not starve the hooks after it.
    """

    def __init__(self, limit: int = 32) -> None:
        self._limit = limit
        self._queue: queue.SimpleQueue[
            tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None
        ] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        # Jobs queued while every worker was busy and none could be added:
        # a worker that finishes takes one of them instead of turning idle.
        self._backlog = 0

    def submit(
        self, function: Callable[[], _T]
    ) -> concurrent.futures.Future[_T]:
        """Run ``function`` in a worker thread."""
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            elif self._threads < self._limit:
                self._spawn()
            else:  # queued until a busy worker comes back
                self._backlog += 1
        self._queue.put((future, function))
        return future

    def abandon(self) -> None:
        """Give up on a hook that overran: let one more thread be started.

        If jobs are already queued, the thread starts now to take one.
        """
        with self._lock:
            self._limit += 1
            if self._backlog:
                self._backlog -= 1
                self._spawn()

    def _spawn(self) -> None:
        """Start one more worker (the caller holds the lock)."""
        self._threads += 1
        threading.Thread(
            target=self._work, name="mainspring-worker", daemon=True
        ).start()

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle and self._queue.empty():
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            if item is None:  # pragma: no cover - reserved for shutdown
                return
            future, function = item
            if future.set_running_or_notify_cancel():
                try:
                    result = function()
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                if self._backlog:
                    self._backlog -= 1
                else:
                    self._idle += 1


workers = Workers()


class _Carried(Exception):  # noqa: N818 - carries, is not an error
    """A SystemExit or the like, carried out of a task to the caller."""

    def __init__(self, exit: BaseException) -> None:  # noqa: A002
        super().__init__(type(exit).__name__)
        self.exit = exit


async def _carried(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Await ``coroutine``; an exception a task must not raise is carried.

    A task re-raises SystemExit and KeyboardInterrupt out of the event loop
    itself, which would stop the loop instead of reaching the caller.
    """
    try:
        return await coroutine
    except (Exception, asyncio.CancelledError):
        raise
    except BaseException as exc:
        raise _Carried(exc) from exc


class LoopThread:
    """An event loop running in a daemon thread, for the sync API.

    Its coroutines' SystemExit and KeyboardInterrupt are raised in the
    calling thread, never in the loop's: see `_carried` and `_serve`.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # What a task of the application's let out of the loop (see _serve).
        self._escaped: BaseException | None = None
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve,
            args=(ready,),
            name="mainspring-loop",
            daemon=True,
        )
        self._thread.start()
        ready.wait()

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        while True:
            try:
                self.loop.run_forever()
            except BaseException as exc:
                # A task of the application's let a SystemExit or the like
                # out of the loop. Serve on, so that the services can still
                # be stopped; the next call raises it.
                if self._escaped is None:
                    self._escaped = exc
                continue
            return

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the loop and wait for its result.

        A KeyboardInterrupt (or any exception a signal handler raises)
        while waiting cancels the coroutine, waits for it to unwind (a
        start rolls back) and is then raised.
        """
        done = threading.Event()
        tasks: list[asyncio.Task[_T]] = []

        def launch() -> None:
            task = self.loop.create_task(_carried(coroutine))
            task.add_done_callback(lambda _: done.set())
            tasks.append(task)

        def cancel() -> None:
            # Callbacks run in the order they were scheduled, so a launch
            # that was scheduled has run; none was if the interrupt came
            # before call_soon_threadsafe could schedule it.
            if tasks:
                tasks[0].cancel()
            else:
                coroutine.close()
                done.set()

        try:
            # Inside the try: the loop may reach a hook that waits for the
            # interrupt before this thread gets to its first wait.
            self.loop.call_soon_threadsafe(launch)
            done.wait()
        except BaseException:
            # Ctrl-C, or a signal handler of the application's that raised
            # (SystemExit for SIGTERM, say): unwind the coroutine first.
            self.loop.call_soon_threadsafe(cancel)
            done.wait()
            raise
        try:
            result = tasks[0].result()
        except _Carried as carried:
            raise carried.exit from None
        escaped, self._escaped = self._escaped, None
        if escaped is not None:
            raise escaped
        return result

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
