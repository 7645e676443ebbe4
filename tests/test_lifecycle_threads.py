"""The threads behind the lifecycle: the worker pool and the loop thread.

Sync hooks run in a pool of daemon threads that grows up to a limit, and
the sync API drives a private event loop in a thread of its own. These
tests use pools of their own, never the one the containers share.
"""

import asyncio
import collections
import threading

import pytest

from _lifecycle_support import PATIENCE, wait_in_thread
from mainspring import Container, NotRunningError, _threads
from mainspring._hooks import ExpiredError, SyncStarts
from mainspring._threads import LoopThread, Workers


@pytest.fixture
def release():
    """An event that frees blocked jobs when the test ends, pass or fail."""
    event = threading.Event()
    yield event
    event.set()


def _blocked_job(release, began):
    def job():
        began.set()
        wait_in_thread(release, "the test to release the job")
        return "released"

    return job


def test_a_job_runs_in_a_daemon_worker_thread():
    """The pool's threads never keep the process alive on their own."""
    pool = Workers()

    thread = pool.submit(threading.current_thread).result(PATIENCE)

    assert thread is not threading.current_thread()
    assert thread.daemon
    assert thread.name == "mainspring-worker"


def test_a_job_that_raises_fails_its_future():
    """The exception reaches whoever waits for the result."""
    pool = Workers()
    error = ValueError("bad input")

    def job():
        raise error

    future = pool.submit(job)

    assert future.exception(PATIENCE) is error


def test_jobs_past_the_limit_wait_for_a_free_worker(release):
    """With every worker busy, a new job queues instead of a new thread."""
    pool = Workers(limit=1)
    began = threading.Event()
    first = pool.submit(_blocked_job(release, began))
    wait_in_thread(began, "the first job to begin")

    second = pool.submit(lambda: "second")
    queued = not second.running() and not second.done()
    release.set()

    assert queued
    assert first.result(PATIENCE) == "released"
    assert second.result(PATIENCE) == "second"
    assert pool._threads == 1


def test_abandoning_a_stuck_job_lets_one_more_thread_start(release):
    """A job that overran keeps its thread; the next job gets a new one."""
    pool = Workers(limit=1)
    began = threading.Event()
    stuck = pool.submit(_blocked_job(release, began))
    wait_in_thread(began, "the stuck job to begin")

    pool.abandon()
    result = pool.submit(lambda: "ran beside it").result(PATIENCE)

    assert result == "ran beside it"
    assert not stuck.done()


def test_abandoning_a_stuck_job_frees_a_job_already_queued(release):
    """A job queued behind a stuck one runs once the stuck one is given up."""
    pool = Workers(limit=1)
    began = threading.Event()
    stuck = pool.submit(_blocked_job(release, began))
    wait_in_thread(began, "the stuck job to begin")
    queued = pool.submit(lambda: "ran beside it")

    pool.abandon()

    assert queued.result(PATIENCE) == "ran beside it"
    assert not stuck.done()


def test_a_backlog_does_not_count_as_idle_workers(release):
    """After a queue drains, new jobs still get threads of their own."""
    # Five jobs queue behind a blocked one and run on the only thread. If
    # each left the worker counted as idle once more, the three jobs below
    # would all be handed to that one thread and wait for each other
    # forever, although the raised limit allows three threads.
    pool = Workers(limit=1)
    began = threading.Event()
    pool.submit(_blocked_job(release, began))
    wait_in_thread(began, "the first job to begin")
    backlog = [pool.submit(lambda: None) for _ in range(5)]
    release.set()
    for future in backlog:
        future.result(PATIENCE)
    pool.abandon()
    pool.abandon()
    everyone = threading.Barrier(3, timeout=PATIENCE)

    meeting = [pool.submit(everyone.wait) for _ in range(3)]

    assert [f.exception(PATIENCE * 2) for f in meeting] == [None] * 3
    assert pool._threads == 3


def test_a_job_cancelled_while_queued_is_skipped(release):
    """A queued job whose future was cancelled is never called."""
    pool = Workers(limit=1)
    began = threading.Event()
    calls = []
    pool.submit(_blocked_job(release, began))
    wait_in_thread(began, "the first job to begin")
    cancelled = pool.submit(lambda: calls.append("cancelled job"))
    cancelled.cancel()

    release.set()
    after = pool.submit(lambda: "after").result(PATIENCE)

    assert after == "after"
    assert calls == []


def test_an_idle_worker_ends_after_the_idle_time(monkeypatch):
    """Threads that have nothing to do go away; the pool may grow again."""
    monkeypatch.setattr(_threads, "_IDLE_SECONDS", 0)
    pool = Workers()
    thread = pool.submit(threading.current_thread).result(PATIENCE)

    thread.join(PATIENCE)

    assert not thread.is_alive()
    assert pool._threads == 0
    assert pool.submit(lambda: "again").result(PATIENCE) == "again"


def test_the_loop_thread_runs_coroutines_and_returns_their_results():
    """call() runs a coroutine on the private loop and waits for it."""
    loop_thread = LoopThread()

    async def where():
        return threading.current_thread(), asyncio.get_running_loop()

    try:
        thread, loop = loop_thread.call(where())
    finally:
        loop_thread.close()

    assert thread is not threading.current_thread()
    assert thread.daemon
    assert loop is loop_thread.loop
    assert loop.is_closed()


def test_the_loop_thread_raises_what_the_coroutine_raised():
    """An exception in the coroutine comes out of call()."""
    loop_thread = LoopThread()
    error = LookupError("missing")

    async def fail():
        raise error

    try:
        with pytest.raises(LookupError) as caught:
            loop_thread.call(fail())
    finally:
        loop_thread.close()

    assert caught.value is error


_reached = threading.Event()


class _InterruptedAfterScheduling(LoopThread):
    """A loop thread whose caller is interrupted before it begins to wait.

    The interrupt comes once the loop has reached a point that sets
    `_reached` (a hook that then waits), but before the calling thread has
    begun its own wait for the result: where a Ctrl-C lands when the loop
    thread runs ahead of the caller.
    """

    def __init__(self) -> None:
        super().__init__()
        schedule = self.loop.call_soon_threadsafe
        interrupted = []

        def schedule_then_interrupt(callback, *args):
            handle = schedule(callback, *args)
            if not interrupted:
                interrupted.append(True)
                wait_in_thread(_reached, "the loop to reach the hook")
                raise KeyboardInterrupt
            return handle

        self.loop.call_soon_threadsafe = schedule_then_interrupt


@pytest.fixture
def reached():
    _reached.clear()
    yield _reached
    _reached.clear()


def test_an_interrupt_before_the_wait_still_cancels_the_coroutine(reached):
    """call() cancels and awaits a coroutine that it had just scheduled."""
    loop_thread = _InterruptedAfterScheduling()
    unwound = threading.Event()

    async def serve():
        reached.set()
        try:
            await asyncio.Event().wait()
        finally:
            unwound.set()

    try:
        with pytest.raises(KeyboardInterrupt):
            loop_thread.call(serve())
    finally:
        loop_thread.close()

    assert unwound.is_set()


def test_an_interrupt_before_the_wait_rolls_a_start_back(monkeypatch, reached):
    """The services that started before the interrupt are stopped."""
    stopped = []

    class Settings:
        def stop(self):
            stopped.append("Settings")

    class Api:
        def __init__(self, settings: Settings):
            self.settings = settings

        async def start(self):
            reached.set()
            await asyncio.Event().wait()

    monkeypatch.setattr(
        "mainspring._lifecycle.LoopThread", _InterruptedAfterScheduling
    )
    container = Container(Settings, Api)

    with pytest.raises(KeyboardInterrupt):
        container.start()

    assert stopped == ["Settings"]


def test_an_interrupt_just_after_the_start_stops_every_service(monkeypatch):
    """A start that finished as Ctrl-C arrived is stopped, not abandoned."""
    stopped = []

    class Settings:
        def stop(self):
            stopped.append("Settings")

    class Api:
        def __init__(self, settings: Settings):
            self.settings = settings

        async def stop(self):
            stopped.append("Api")

    class InterruptedOnReturn(LoopThread):
        calls = 0

        def call(self, coroutine):
            result = super().call(coroutine)
            InterruptedOnReturn.calls += 1
            if InterruptedOnReturn.calls == 1:
                raise KeyboardInterrupt
            return result

    monkeypatch.setattr(
        "mainspring._lifecycle.LoopThread", InterruptedOnReturn
    )
    container = Container(Settings, Api)

    with pytest.raises(KeyboardInterrupt):
        container.start()

    assert stopped == ["Api", "Settings"]
    assert isinstance(container.statuses()[Api], NotRunningError)


# SyncStarts: the runner threads behind sync start() hooks


def _recording(threads, name, began=None, go=None):
    """A sync start that notes its thread, then waits for ``go`` if given."""

    def hook():
        threads[name] = threading.get_ident()
        if began is not None:
            began.set()
        if go is not None:
            wait_in_thread(go, f"the test to let {name} end")

    return hook


def test_sync_starts_past_the_limit_wait_for_a_runner_thread(release):
    """With every runner busy, a further start queues for one of them."""
    threads: dict[str, int] = {}
    began = {"a": threading.Event(), "b": threading.Event()}

    async def main() -> None:
        starts = SyncStarts(limit=2)
        futures = [
            starts.submit(
                _recording(threads, name, began[name], release), None
            )
            for name in ("a", "b")
        ]
        for name in ("a", "b"):
            await asyncio.to_thread(wait_in_thread, began[name], name)
        futures.append(starts.submit(_recording(threads, "c"), None))
        assert starts._runners == 2  # c is queued, not given a third thread
        release.set()
        async with asyncio.timeout(PATIENCE):
            await asyncio.gather(*futures)

    asyncio.run(main())

    assert threads["c"] in {threads["a"], threads["b"]}


def test_an_expired_sync_start_hands_the_queue_to_one_new_runner(release):
    """After an overrun, one fresh thread runs the queued starts in turn."""
    threads: dict[str, int] = {}
    b_began, b_go = threading.Event(), threading.Event()

    def stuck():
        wait_in_thread(release, "the end of the test")

    async def main() -> None:
        starts = SyncStarts(limit=1)
        first = starts.submit(stuck, 0.05)
        queued = starts.submit(_recording(threads, "b", b_began, b_go), None)
        async with asyncio.timeout(PATIENCE):
            with pytest.raises(ExpiredError):
                await first
        await asyncio.to_thread(wait_in_thread, b_began, "the queued start")
        last = starts.submit(_recording(threads, "c"), None)
        assert starts._runners == 1  # the stuck thread no longer counts
        b_go.set()
        async with asyncio.timeout(PATIENCE):
            await asyncio.gather(queued, last)

    asyncio.run(main())

    assert threads["c"] == threads["b"]


def test_the_late_end_of_an_expired_start_does_not_hide_the_next_one():
    """Ends reported together are all read, a stale one first included.

    The loop is held while both starts end, so that the late end of the
    expired start and the end of the next one reach it in one batch.
    """
    a_go, b_began, b_go = (threading.Event() for _ in range(3))
    ended = {"stuck": threading.Event(), "b": threading.Event()}

    def stuck():
        wait_in_thread(a_go, "the test to let the expired start end")

    async def main() -> None:
        starts = SyncStarts(limit=1)
        tell = starts._tell

        def telling(job, *, finished):
            tell(job, finished=finished)
            if finished:
                ended["stuck" if job.hook is stuck else "b"].set()

        starts._tell = telling
        first = starts.submit(stuck, 0.05)
        queued = starts.submit(_recording({}, "b", b_began, b_go), None)
        async with asyncio.timeout(PATIENCE):
            with pytest.raises(ExpiredError):
                await first
        await asyncio.to_thread(wait_in_thread, b_began, "the queued start")
        # Blocking calls on purpose: the loop must not read either end yet.
        a_go.set()
        wait_in_thread(ended["stuck"], "the expired start to report")
        b_go.set()
        wait_in_thread(ended["b"], "the queued start to report")
        async with asyncio.timeout(PATIENCE):
            await queued

    try:
        asyncio.run(main())
    finally:
        a_go.set()
        b_go.set()


def test_a_start_queued_as_its_runner_finds_the_queue_empty_still_runs():
    """A runner that sees an empty queue looks again before it leaves.

    The queue holds the runner between finding itself empty and taking the
    lock, and the test submits a start in that moment; with the runner
    still counted, no other thread is started for it.
    """
    empty, submitted = threading.Event(), threading.Event()
    ran: list[str] = []

    class Queue(collections.deque):
        held = False

        def popleft(self):
            try:
                return super().popleft()
            except IndexError:
                if not self.held:
                    self.held = True
                    empty.set()
                    wait_in_thread(submitted, "the test to submit a start")
                raise

    async def main() -> None:
        starts = SyncStarts(limit=1)
        starts._jobs = Queue()
        async with asyncio.timeout(PATIENCE):
            await starts.submit(lambda: ran.append("a"), None)
        await asyncio.to_thread(wait_in_thread, empty, "an empty queue")
        late = starts.submit(lambda: ran.append("b"), None)
        assert starts._runners == 1  # the leaving runner still counts
        submitted.set()
        async with asyncio.timeout(PATIENCE):
            await late

    try:
        asyncio.run(main())
    finally:
        submitted.set()

    assert ran == ["a", "b"]
