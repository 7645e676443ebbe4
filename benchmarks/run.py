"""Compare mainspring with a hand-written baseline and its peers.

    python benchmarks/run.py             # the full run, a few minutes at most
    python benchmarks/run.py --quick     # a smoke run: tiny sizes, few repeats
    python benchmarks/run.py --only transient_graph --json results.json

Prints a Markdown table: time per operation for every library, each with
its ratio to the baseline, and mainspring's ratio to the best peer. Every
case is checked before it is timed (right types, singletons shared,
transients new). Repeats go round-robin across the libraries and the
median is reported, so a noisy machine slows everyone alike. The garbage
collector is off while the clock runs, as in ``timeit``.

Peers come from the ``bench`` extra (``pip install -e '.[bench]'``); a
peer that is not installed is skipped with a note. The exit status is 1
when a check failed, so a smoke run catches an adapter that rotted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import gc
import importlib
import importlib.metadata
import inspect
import itertools
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios
from adapter import Adapter, Case, Unsupported
from peers import PEERS

MICRO = ("singleton_get", "transient_graph", "mixed_graph", "async_get")
SCENARIOS = (*MICRO, "build_N", "import", "lifecycle_N", "memory")
_ALIASES = {"build": "build_N", "lifecycle": "lifecycle_N"}
# Services in the graphs that check the build and lifecycle adapters.
_CHECK_SIZE = 100


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure."""

    repeats: int  # samples per micro case
    heavy_repeats: int  # samples per build or lifecycle size
    min_sample: float  # seconds: micro loops grow until a sample is this long
    build_sizes: tuple[int, ...]
    lifecycle_sizes: tuple[int, ...]
    import_repeats: int
    memory_size: int
    # A peer's build or lifecycle sample is cut off after this many
    # seconds, and a size it would likely exceed is skipped.
    peer_limit: float


FULL = Settings(
    repeats=7,
    heavy_repeats=3,
    min_sample=0.02,
    build_sizes=(1_000, 4_000, 16_000),
    lifecycle_sizes=(1_000, 4_000, 16_000),
    import_repeats=21,  # each run is short and noisy: take many
    memory_size=500,
    peer_limit=3.0,
)
QUICK = Settings(
    repeats=3,
    heavy_repeats=1,
    min_sample=0.002,
    build_sizes=(100, 200),
    lifecycle_sizes=(50, 100),
    import_repeats=1,
    memory_size=100,
    peer_limit=3.0,
)


# Results


@dataclass
class Cell:
    """One library's result for one row."""

    samples: list[float] = field(default_factory=list)
    status: str = "ok"  # ok, n/a, failed, skipped
    note: str = ""
    loops: int = 1
    # Seconds each heavy sample took with its untimed preparation.
    costs: list[float] = field(default_factory=list)

    @property
    def value(self) -> float | None:
        if self.status != "ok" or not self.samples:
            return None
        return statistics.median(self.samples)


@dataclass
class Row:
    """A line of the table."""

    scenario: str
    label: str
    unit: str  # "s" per operation, "B" per service, "slope"
    cells: dict[str, Cell]
    target: str = ""
    # Which peers count for "best peer": all, or those reading type hints.
    hint_readers_only: bool = False
    size: int = 0  # N, for the build and lifecycle rows


@dataclass
class Library:
    """An adapter plus its place in the report."""

    adapter: Adapter
    is_peer: bool

    @property
    def name(self) -> str:
        return self.adapter.name


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Timing


def _loop_sync(run: Callable[[], Any], loops: int) -> float:
    iterations = itertools.repeat(None, loops)
    start = time.perf_counter()
    for _ in iterations:
        run()
    return time.perf_counter() - start


async def _loop_async(run: Callable[[], Any], loops: int) -> float:
    iterations = itertools.repeat(None, loops)
    start = time.perf_counter()
    for _ in iterations:
        await run()
    return time.perf_counter() - start


class Timer:
    """timeit-style timing of sync and async callables, gc off."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()

    def time(self, case: Case, loops: int) -> float:
        enabled = gc.isenabled()
        gc.disable()
        try:
            if case.is_async:
                return self.loop.run_until_complete(
                    _loop_async(case.run, loops)
                )
            return _loop_sync(case.run, loops)
        finally:
            if enabled:
                gc.enable()

    def autorange(self, case: Case, minimum: float) -> int:
        """The smallest 1-2-5 loop count whose sample lasts ``minimum``."""
        for exponent in itertools.count():
            for factor in (1, 2, 5):
                loops = factor * 10**exponent
                if self.time(case, loops) >= minimum:
                    return loops
        raise AssertionError  # pragma: no cover - count() never ends


class Overtime(BaseException):
    """A sample ran past its limit and was abandoned.

    A BaseException, like KeyboardInterrupt, so that a library's cleanup
    code catching Exception does not swallow it.
    """


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise `Overtime` in this thread once ``seconds`` have passed.

    It is raised again every half second until it gets through.
    """
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise Overtime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _time_once(op: Callable[[], Any], limit: float | None) -> float:
    """Run a heavy operation once, gc off, within ``limit`` seconds."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        with _deadline(limit):
            if inspect.iscoroutinefunction(op):

                async def timed() -> float:
                    start = time.perf_counter()
                    await op()
                    return time.perf_counter() - start

                return asyncio.run(timed())
            start = time.perf_counter()
            op()
            return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return f"{type(error).__name__}{detail}"[:160]


def _rotated(items: list[Any], shift: int) -> list[Any]:
    """The libraries in a different order on each round."""
    if not items:
        return items
    shift %= len(items)
    return items[shift:] + items[:shift]


# Scenarios


def micro_rows(
    libraries: list[Library], settings: Settings, timer: Timer, only: set[str]
) -> list[Row]:
    plans: list[tuple[str, Callable[[], scenarios.Spec], str, str]] = [
        ("singleton_get", scenarios.singleton_graph, "singleton_get", ""),
        ("transient_graph", scenarios.transient_graph, "transient", ""),
        ("mixed_graph", scenarios.mixed_graph, "transient", ""),
        ("async_get", scenarios.transient_graph, "async_transient", ""),
    ]
    rows = []
    for scenario, make_spec, method, _ in plans:
        if scenario not in only:
            continue
        _log(f"{scenario}: checking and calibrating")
        cells: dict[str, Cell] = {}
        cases: dict[str, tuple[Case, Cell]] = {}
        for library in libraries:
            cell = cells[library.name] = Cell()
            try:
                case = getattr(library.adapter, method)(make_spec())
                case.check()
                cell.loops = timer.autorange(case, settings.min_sample)
            except Unsupported as error:
                cell.status, cell.note = "n/a", str(error)
                continue
            except Exception as error:
                cell.status, cell.note = "failed", _first_line(error)
                _log(f"  {library.name}: check failed: {cell.note}")
                continue
            cases[library.name] = (case, cell)
        names = list(cases)
        for round_ in range(settings.repeats):
            for name in _rotated(names, round_):
                case, cell = cases[name]
                cell.samples.append(timer.time(case, cell.loops) / cell.loops)
        rows.append(
            Row(scenario, scenario, "s", cells, target="<= 1.0x best peer")
        )
    return rows


def _check_build(adapter: Adapter, size: int) -> None:
    spec = scenarios.random_dag(size)
    try:
        scenarios.check_all(spec, adapter.build(spec))
    finally:
        spec.dispose()


def _check_lifecycle(adapter: Adapter, size: int, hooks: str) -> None:
    spec = scenarios.random_dag(size, hooks=hooks, record=True)
    try:
        op = adapter.lifecycle(spec)
        if inspect.iscoroutinefunction(op):
            asyncio.run(op())
        else:
            op()
        scenarios.check_lifecycle(spec)
    finally:
        spec.dispose()


class HeavyFamily:
    """A scenario timed once per sample at growing sizes (build, lifecycle).

    ``prepare(adapter, spec)`` returns the operation to time; it runs
    outside the clock, on a spec made by ``make_spec(size)``.
    """

    def __init__(
        self,
        label: str,
        make_spec: Callable[[int], scenarios.Spec],
        prepare: Callable[[Adapter, scenarios.Spec], Callable[[], Any]],
        check: Callable[[Adapter], None],
        *,
        fresh_each_round: bool,
        per_service: bool,
    ) -> None:
        self.label = label
        self.make_spec = make_spec
        self.prepare = prepare
        self.check = check
        self.fresh_each_round = fresh_each_round
        self.per_service = per_service
        # The slowest sample and its size, by library, for estimates.
        self._last: dict[str, tuple[float, int]] = {}

    def rows(
        self,
        libraries: list[Library],
        sizes: tuple[int, ...],
        settings: Settings,
    ) -> list[Row]:
        # A library whose check failed, or that ran over, keeps its cell.
        stopped = self._checked(libraries)
        rows = []
        for index, size in enumerate(sizes):
            _log(f"{self.label}: N={size}")
            cells = {
                lib.name: stopped.get(lib.name, Cell()) for lib in libraries
            }
            running = [lib for lib in libraries if lib.name not in stopped]
            self._measure(running, size, cells, settings)
            for library in running:
                note = self._skip_next(
                    library, cells[library.name], sizes[index:], settings
                )
                if note:
                    stopped[library.name] = Cell(status="skipped", note=note)
            if self.per_service:
                for cell in cells.values():
                    if cell.status == "ok":
                        cell.samples = [s / size for s in cell.samples]
            label = f"{self.label.split(maxsplit=1)[0]}_{size}"
            rows.append(Row(self.label, label, "s", cells, size=size))
        return rows

    def _measure(
        self,
        running: list[Library],
        size: int,
        cells: dict[str, Cell],
        settings: Settings,
    ) -> None:
        """Take the samples of one size, round-robin across libraries.

        The libraries share one spec per round (build: new classes each
        round) or per size (lifecycle); specs are made outside the clock.
        A peer whose sample took more than half its limit takes no more.
        """
        spec: scenarios.Spec | None = None
        try:
            for round_ in range(settings.heavy_repeats):
                if spec is None or self.fresh_each_round:
                    if spec is not None:
                        spec.dispose()
                    spec = self.make_spec(size)
                for library in _rotated(running, round_):
                    cell = cells[library.name]
                    slow = library.is_peer and any(
                        t > settings.peer_limit / 2 for t in cell.costs
                    )
                    if cell.status == "ok" and not slow:
                        self._sample(library, size, cell, spec, settings)
        finally:
            if spec is not None:
                spec.dispose()
            gc.collect()  # outside the clock: garbage of this size

    def _sample(
        self,
        library: Library,
        size: int,
        cell: Cell,
        spec: scenarios.Spec,
        settings: Settings,
    ) -> None:
        limit = settings.peer_limit if library.is_peer else None
        step = "preparing"
        began = time.perf_counter()
        try:
            # Preparing is not timed, but a library can be slow at it too.
            with _deadline(limit):
                op = self.prepare(library.adapter, spec)
            step = "per sample"
            cell.samples.append(_time_once(op, limit))
            cell.costs.append(time.perf_counter() - began)
        except Overtime:
            cell.status = "skipped"
            cell.note = f"over {limit:g} s {step} at N={size}"
            _log(f"  {library.name}: {cell.note}")
        except Exception as error:
            cell.status, cell.note = "failed", _first_line(error)
            _log(f"  {library.name}: failed: {cell.note}")

    def _checked(self, libraries: list[Library]) -> dict[str, Cell]:
        """Check every library; the cells of those that cannot run."""
        _log(f"{self.label}: checking")
        refused: dict[str, Cell] = {}
        for library in libraries:
            try:
                self.check(library.adapter)
            except Unsupported as error:
                refused[library.name] = Cell(status="n/a", note=str(error))
            except Exception as error:
                note = _first_line(error)
                refused[library.name] = Cell(status="failed", note=note)
                _log(f"  {library.name}: check failed: {note}")
        return refused

    def _skip_next(
        self,
        library: Library,
        cell: Cell,
        sizes: tuple[int, ...],
        settings: Settings,
    ) -> str:
        """Why ``library`` stops before ``sizes[1]``, or "" if it goes on.

        A peer that ran over stops; so does one whose slowest sample with
        its preparation, grown by the size ratio raised to the slope seen
        so far (at least 1), would run over. ``sizes`` starts at the size
        just measured.
        """
        if cell.status != "ok":
            return cell.note
        if not library.is_peer or len(sizes) < 2:
            return ""
        slowest = max(cell.costs, default=0.0)
        previous = self._last.get(library.name)
        self._last[library.name] = (slowest, sizes[0])
        slope = 1.0
        if previous and previous[0] > 0 and slowest > 0:
            growth = math.log(slowest / previous[0])
            slope = max(1.0, growth / math.log(sizes[0] / previous[1]))
        if slowest * (sizes[1] / sizes[0]) ** slope <= settings.peer_limit:
            return ""
        return (
            f"N={sizes[1]} and up skipped: estimated over "
            f"{settings.peer_limit:g} s per sample"
        )


def import_row(libraries: list[Library], settings: Settings) -> Row:
    _log("import: fresh interpreters")
    code = (
        "import time\n"
        "start = time.perf_counter()\n"
        "import {module}\n"
        "print(time.perf_counter() - start)\n"
    )
    # Every library reads bytecode from one fresh cache, written by the
    # first run: a checkout (or PYTHONDONTWRITEBYTECODE) would otherwise
    # make mainspring compile its sources on every run, unlike installed
    # peers, whose caches pip wrote.
    cache = tempfile.mkdtemp(prefix="mainspring-bench-pycache-")
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONDONTWRITEBYTECODE"
    }
    env["PYTHONPYCACHEPREFIX"] = cache
    try:
        cells = _import_cells(libraries, settings, code, env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return Row(
        "import",
        "import",
        "s",
        cells,
        target="<= 1.2x `import inspect, typing`, below every peer",
    )


def _import_cells(
    libraries: list[Library],
    settings: Settings,
    code: str,
    env: dict[str, str],
) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    commands: dict[str, list[str]] = {}
    for library in libraries:
        command = [
            sys.executable,
            "-c",
            code.format(module=library.adapter.module),
        ]
        cell = cells[library.name] = Cell()
        # The first run also writes the bytecode caches.
        result = subprocess.run(  # noqa: S603 - our own interpreter
            command, capture_output=True, text=True, check=False, env=env
        )
        if result.returncode:
            cell.status = "failed"
            cell.note = (result.stderr.strip().splitlines() or ["?"])[-1]
            continue
        commands[library.name] = command
    names = list(commands)
    for round_ in range(settings.import_repeats):
        for name in _rotated(names, round_):
            output = subprocess.run(  # noqa: S603 - our own interpreter
                commands[name],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
            cells[name].samples.append(float(output))
    return cells


def _traced(work: Callable[[], Any]) -> int:
    """Bytes still allocated after ``work`` while its result is alive."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = work()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def memory_row(libraries: list[Library], settings: Settings) -> Row:
    _log("memory: tracemalloc")
    size = settings.memory_size
    cells: dict[str, Cell] = {}
    baseline_bytes: float | None = None
    for library in libraries:
        cell = cells[library.name] = Cell()
        adapter = library.adapter
        warm = scenarios.random_dag(50)
        spec = scenarios.random_dag(size)
        limit = settings.peer_limit if library.is_peer else None
        try:
            adapter.build(warm)  # lazy imports and caches of the library
            with _deadline(limit):
                used = _traced(lambda: adapter.build(spec))  # noqa: B023
        except Unsupported as error:
            cell.status, cell.note = "n/a", str(error)
            continue
        except Overtime:
            cell.status = "skipped"
            cell.note = f"over {limit:g} s building {size} traced services"
            continue
        except Exception as error:
            cell.status, cell.note = "failed", _first_line(error)
            continue
        finally:
            warm.dispose()
            spec.dispose()
        if not library.is_peer and library.name == "baseline":
            baseline_bytes = used / size
        cell.samples.append(used / size)
    if baseline_bytes is not None:
        for name, cell in cells.items():
            if cell.samples and name != "baseline":
                cell.samples = [cell.samples[0] - baseline_bytes]
        base = cells["baseline"]
        base.note = (
            f"the {size} instances themselves: {baseline_bytes:.0f} B each,"
            " subtracted from every other cell"
        )
        base.samples = [0.0]
    return Row("memory", "memory", "B", cells, target="<= 2 KiB per service")


# Report


def _format_time(seconds: float) -> str:
    # Rounded first, so that 999.7 ns reads as 1 µs rather than 1e+03 ns.
    seconds = float(f"{seconds:.3g}")
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _format_bytes(count: float) -> str:
    if abs(count) >= 1024:
        return f"{count / 1024:.2f} KiB"
    return f"{count:.0f} B"


def _format(value: float, unit: str) -> str:
    if unit == "B":
        return _format_bytes(value)
    if unit == "slope":
        return f"{value:.2f}"
    return _format_time(value)


def _best_peer(row: Row, libraries: list[Library]) -> tuple[str, float]:
    best = ("", math.inf)
    for library in libraries:
        if not library.is_peer:
            continue
        if row.hint_readers_only and not library.adapter.reads_hints:
            continue
        value = row.cells[library.name].value
        if value is not None and value < best[1]:
            best = (library.name, value)
    return best


def slope_rows(rows: list[Row], family: str, target: str) -> list[Row]:
    """The log-log slope from the smallest to the largest size."""
    sized = [r for r in rows if r.scenario == family]
    if len(sized) < 2:
        return []
    first, last = sized[0], sized[-1]
    n_first, n_last = first.size, last.size
    per_service = "lifecycle" in family
    cells = {}
    for name, cell in first.cells.items():
        small, large = cell.value, last.cells[name].value
        if small is None or large is None or small <= 0:
            cells[name] = Cell(status="n/a", note=last.cells[name].note)
            continue
        if per_service:  # back to whole-operation times
            small, large = small * n_first, large * n_last
        slope = math.log(large / small) / math.log(n_last / n_first)
        cells[name] = Cell(samples=[slope])
    label = f"{family.split(maxsplit=1)[0]} slope {n_first}→{n_last}"
    if "(" in family:
        label += " " + family[family.index("(") :]
    return [Row(family, label, "slope", cells, target=target)]


class Report:
    """The Markdown table, its footnotes and the verdicts on the targets."""

    def __init__(self, libraries: list[Library]) -> None:
        self.libraries = libraries
        self.footnotes: dict[str, int] = {}

    def mark(self, note: str) -> str:
        if not note:
            return ""
        number = self.footnotes.setdefault(note, len(self.footnotes) + 1)
        return f" [{number}]"

    def cell(self, row: Row, name: str, baseline: float | None) -> str:
        cell = row.cells.get(name)
        if cell is None:
            return ""
        if cell.status != "ok" or cell.value is None:
            label = {"failed": "FAILED", "skipped": "skipped"}.get(
                cell.status, "n/a"
            )
            return label + self.mark(cell.note)
        text = _format(cell.value, row.unit)
        if (
            row.unit == "s"
            and name != "baseline"
            and baseline
            and baseline > 0
        ):
            text += f" ({cell.value / baseline:.1f}x)"
        return text + self.mark(cell.note if name == "baseline" else "")

    def table(self, rows: list[Row]) -> str:
        names = [library.name for library in self.libraries]
        header = [
            "scenario",
            *names,
            "best peer",
            "mainspring / best",
            "target",
        ]
        lines = [
            "| " + " | ".join(header) + " |",
            "|"
            + "|".join([" --- "] + [" ---: "] * (len(header) - 2))
            + "| --- |",
        ]
        for row in rows:
            base = row.cells.get("baseline")
            baseline = base.value if base is not None else None
            cells = [self.cell(row, name, baseline) for name in names]
            best_name, best = _best_peer(row, self.libraries)
            ours = row.cells["mainspring"].value
            if best_name and row.unit != "slope":
                best_text = best_name
                ratio = (
                    f"{ours / best:.2f}x"
                    if ours is not None and best > 0
                    else "n/a"
                )
            elif best_name:
                best_text, ratio = f"{best_name} ({best:.2f})", ""
            else:
                best_text, ratio = "none", ""
            if row.hint_readers_only and best_name:
                best_text += self.mark(
                    "best of the peers that read type hints"
                )
            lines.append(
                "| "
                + " | ".join([row.label, *cells, best_text, ratio, row.target])
                + " |"
            )
        return "\n".join(lines)

    def notes(self) -> str:
        return "\n".join(
            f"[{number}] {note}" for note, number in self.footnotes.items()
        )


def _verdict(label: str, value: float | None, limit: float, text: str) -> str:
    if value is None:
        return f"- {label}: not measured"
    return f"- {label}: {text} ({'met' if value <= limit else 'MISSED'})"


def _ratio_verdict(row: Row, libraries: list[Library]) -> str:
    ours = row.cells["mainspring"].value
    best_name, best = _best_peer(row, libraries)
    limit = 1.0 if row.scenario in MICRO else 0.5
    if ours is None or not best_name:
        return _verdict(row.label, None, limit, "")
    ratio = ours / best
    return _verdict(
        row.label, ratio, limit, f"{ratio:.2f}x {best_name} <= {limit}x"
    )


def _import_verdict(row: Row, libraries: list[Library]) -> str:
    ours = row.cells["mainspring"].value
    floor = row.cells["baseline"].value
    if ours is None or not floor:
        return _verdict(row.label, None, 0, "")
    peers = [row.cells[lib.name].value for lib in libraries if lib.is_peer]
    below = all(ours < p for p in peers if p is not None)
    ratio = ours / floor
    where = "below every peer" if below else "NOT below every peer"
    return _verdict(
        row.label,
        ratio if below else math.inf,
        1.2,
        f"{ratio:.2f}x the floor <= 1.2x, {where}",
    )


def _value_verdict(row: Row) -> str:
    ours = row.cells["mainspring"].value
    if row.unit == "slope":
        text = f"{ours:.2f} <= 1.10" if ours is not None else ""
        return _verdict(row.label, ours, 1.10, text)
    if row.unit == "B":
        text = f"{_format_bytes(ours)} <= 2 KiB" if ours is not None else ""
        return _verdict(row.label, ours, 2048, text)
    limit = 25e-6 if "async" in row.scenario else 60e-6
    text = (
        f"{_format_time(ours)} <= {_format_time(limit)} per service"
        if ours is not None
        else ""
    )
    return _verdict(row.label, ours, limit, text)


def verdicts(rows: list[Row], libraries: list[Library]) -> list[str]:
    """One line per target: the measured value and whether it is met."""
    lines = []
    for row in rows:
        if row.unit == "s" and (
            row.scenario in MICRO or row.scenario == "build"
        ):
            lines.append(_ratio_verdict(row, libraries))
        elif row.scenario == "import":
            lines.append(_import_verdict(row, libraries))
        else:
            lines.append(_value_verdict(row))
    return lines


# Main


def _load(names: tuple[str, ...]) -> tuple[list[Library], list[str]]:
    libraries = [
        Library(importlib.import_module("baseline").ADAPTER, is_peer=False),
        Library(
            importlib.import_module("mainspring_adapter").ADAPTER,
            is_peer=False,
        ),
    ]
    missing = []
    for name in names:
        try:
            module = importlib.import_module(f"peers.{name}")
        except ModuleNotFoundError as error:
            if error.name and error.name.split(".")[0] == name:
                missing.append(name.replace("_", "-"))
                continue
            raise
        libraries.append(Library(module.ADAPTER, is_peer=True))
    return libraries, missing


def _cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or platform.machine()
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _versions(libraries: list[Library]) -> str:
    parts = []
    for library in libraries:
        distribution = library.adapter.distribution
        if not distribution:
            continue
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = getattr(
                sys.modules.get(distribution), "__version__", "?"
            )
        if library.name == "mainspring":
            version += _revision()
        parts.append(f"{library.name} {version}")
    return ", ".join(parts)


def _revision() -> str:
    """The commit of the measured source, if it is a git checkout."""
    root = Path(__file__).resolve().parent.parent
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        commit = subprocess.run(  # noqa: S603 - git, found on PATH
            [git, "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(  # noqa: S603
            [git, "-C", str(root), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f" ({commit}{', src modified' if changed else ''})"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: tiny and fast"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted({*SCENARIOS, *_ALIASES}),
        help="run only this scenario (repeatable)",
    )
    parser.add_argument(
        "--json", type=Path, help="also write the raw results here"
    )
    return parser.parse_args(argv)


def _build_rows(libraries: list[Library], settings: Settings) -> list[Row]:
    family = HeavyFamily(
        "build",
        scenarios.random_dag,
        lambda adapter, spec: lambda: adapter.build(spec),
        lambda adapter: _check_build(adapter, settings.build_sizes[0]),
        fresh_each_round=True,
        per_service=False,
    )
    rows = family.rows(libraries, settings.build_sizes, settings)
    for row in rows:
        row.target = "<= 0.5x the best peer reading type hints"
        row.hint_readers_only = True
    return rows + slope_rows(rows, "build", "<= 1.10")


def _lifecycle_rows(libraries: list[Library], settings: Settings) -> list[Row]:
    rows = []
    for hooks, limit in (("async", "25 µs"), ("sync", "60 µs")):
        family = HeavyFamily(
            f"lifecycle ({hooks} hooks)",
            functools.partial(scenarios.random_dag, hooks=hooks),
            lambda adapter, spec: adapter.lifecycle(spec),
            functools.partial(
                _check_lifecycle,
                size=_CHECK_SIZE,
                hooks=hooks,
            ),
            fresh_each_round=False,
            per_service=True,
        )
        timed = family.rows(libraries, settings.lifecycle_sizes, settings)
        for row in timed:
            row.label += f" {hooks}, per service"
            row.target = f"<= {limit} per service"
        rows += timed + slope_rows(timed, family.label, "<= 1.10 (linear)")
    return rows


def _run(
    libraries: list[Library], settings: Settings, only: set[str]
) -> list[Row]:
    def micro() -> list[Row]:
        timer = Timer()
        try:
            return micro_rows(libraries, settings, timer, only)
        finally:
            timer.close()

    phases: dict[str, Callable[[], list[Row]]] = {
        "micro": micro,
        "build_N": lambda: _build_rows(libraries, settings),
        "import": lambda: [import_row(libraries, settings)],
        "lifecycle_N": lambda: _lifecycle_rows(libraries, settings),
        "memory": lambda: [memory_row(libraries, settings)],
    }
    # Run order: the phases that leave the most behind (libraries that
    # keep every class they saw, mainspring's own registry included) go
    # last, so that the others do not pay for a bigger heap.
    run_order = ("micro", "import", "memory", "lifecycle_N", "build_N")
    results: dict[str, list[Row]] = {}
    for name in run_order:
        if name != "micro" and name not in only:
            continue
        began = time.perf_counter()
        results[name] = phases[name]()
        _log(f"({name}: {time.perf_counter() - began:.1f} s)")
    return [row for name in phases for row in results.get(name, [])]


def _header(argv: list[str] | None, elapsed: float) -> str:
    words = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/run.py", *words])
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now} · {platform.platform()} · {os.cpu_count()} CPUs ({_cpu()}) · "
        f"{platform.python_implementation()} {platform.python_version()} · "
        f"`{command}` · {elapsed:.0f} s"
    )


def _render(
    header: str, rows: list[Row], libraries: list[Library], missing: list[str]
) -> str:
    report = Report(libraries)
    for library in libraries:
        for scenario, note in library.adapter.notes.items():
            if scenario == "*" or any(
                row.scenario.startswith(scenario.removesuffix("_N"))
                for row in rows
            ):
                report.mark(note)
    table = report.table(rows)
    lines = [header, "", f"Versions: {_versions(libraries)}."]
    if missing:
        lines.append(
            f"Not installed, skipped: {', '.join(missing)} "
            "(pip install -e '.[bench]')."
        )
    lines += [
        "",
        (
            "Median time per operation; (Nx) is the ratio to the baseline. "
            "Lifecycle rows are per service, start and stop together; "
            "memory is the container's own bytes per registered service."
        ),
        "",
        table,
        "",
        report.notes(),
        "",
        "Targets:",
        *verdicts(rows, libraries),
    ]
    return "\n".join(lines)


def _write_json(
    path: Path, header: str, settings: Settings, rows: list[Row]
) -> None:
    data = {
        "header": header,
        "settings": settings.__dict__,
        "rows": [
            {
                "scenario": row.scenario,
                "label": row.label,
                "unit": row.unit,
                "size": row.size,
                "cells": {
                    name: cell.__dict__ | {"value": cell.value}
                    for name, cell in row.cells.items()
                },
            }
            for row in rows
        ],
    }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    settings = QUICK if args.quick else FULL
    only = {_ALIASES.get(s, s) for s in args.only or SCENARIOS}
    began = time.perf_counter()
    libraries, missing = _load(PEERS)
    rows = _run(libraries, settings, only)
    header = _header(argv, time.perf_counter() - began)
    print(_render(header, rows, libraries, missing))
    if args.json:
        _write_json(args.json, header, settings, rows)
    failed = [
        f"{row.label}: {name}"
        for row in rows
        for name, cell in row.cells.items()
        if cell.status == "failed"
    ]
    if failed:
        _log("checks failed: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
