"""The small interface every library in the comparison implements.

An adapter turns a generated `scenarios.Spec` into work for its library:

- ``singleton_get``, ``transient`` and ``async_transient`` return a `Case`:
  a zero-argument callable to time (a coroutine function when
  ``is_async``) and a check that runs it and asserts the result.
- ``build`` registers every class of a spec as a singleton, validates the
  graph if the library can, resolves every class, and returns a getter
  (``build_N`` times it whole; ``memory`` measures what it keeps).
- ``lifecycle`` prepares a container of services with start and stop hooks
  and returns the operation to time: start them all, then stop them all
  (a coroutine function for async hooks).

A scenario a library cannot express raises `Unsupported`, whose message
becomes the footnote next to "n/a".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenarios import Spec, check_pair


class Unsupported(Exception):  # noqa: N818 - reads as "this is unsupported"
    """The library cannot express this scenario; the message says why."""


@dataclass
class Case:
    """One timed operation and the check that it does the right thing."""

    run: Callable[[], Any]
    check: Callable[[], None]
    is_async: bool = False


class Adapter:
    """A library in the comparison; the defaults refuse every scenario."""

    #: Column heading.
    name = "?"
    #: Distribution name, for the version in the header.
    distribution = "?"
    #: The import measured by the ``import`` scenario.
    module = "?"
    #: Whether it wires constructors from their type hints (``build_N`` is
    #: compared with the fastest of these).
    reads_hints = True
    #: Footnotes on how it is configured, by scenario (``"*"``: all).
    notes: dict[str, str] = {}  # noqa: RUF012 - read-only class data

    def singleton_get(self, spec: Spec) -> Case:
        raise Unsupported("has no singleton lifetime")

    def transient(self, spec: Spec) -> Case:
        raise Unsupported("has no transient lifetime")

    def async_transient(self, spec: Spec) -> Case:
        raise Unsupported("resolves synchronously only: no async API")

    def build(self, spec: Spec) -> Callable[[type], Any]:
        raise Unsupported("cannot register generated classes")

    def lifecycle(self, spec: Spec) -> Callable[[], Any]:
        raise Unsupported(
            "has neither start and stop hooks nor resource teardown"
        )


def pair_case(spec: Spec, run: Callable[[], Any]) -> Case:
    """A sync case checked by comparing two results."""
    return Case(run, lambda: check_pair(spec, run(), run()))


def async_pair_case(spec: Spec, run: Callable[[], Any]) -> Case:
    """An async case checked by comparing two results."""

    def check() -> None:
        async def both() -> tuple[object, object]:
            return await run(), await run()

        check_pair(spec, *asyncio.run(both()))

    return Case(run, check, is_async=True)
