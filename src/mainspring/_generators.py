"""Running the code after a generator factory's ``yield``: its teardown."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from mainspring._keys import describe

__all__ = ["finish_async_generator", "finish_generator"]


def finish_generator(
    generator: Generator[Any, None, None], key: object
) -> None:
    """Run a sync generator factory's code after its ``yield``."""
    try:
        next(generator)
    except StopIteration:
        return
    generator.close()
    message = (
        f"generator factory for {describe(key)} yielded more than once; it "
        "must yield exactly one value"
    )
    raise RuntimeError(message)


async def finish_async_generator(generator: Any, key: object) -> None:
    """Run an async generator factory's code after its ``yield``."""
    if generator.ag_frame is None:
        # Closed already: asyncio.run() closes the async generators of its
        # loop when it returns, skipping the code after the yield.
        message = (
            f"the async generator factory for {describe(key)} was closed by "
            "the event loop it was built on before the container stopped, "
            "so its teardown did not run; stop the container before that "
            "loop ends"
        )
        raise RuntimeError(message)
    try:
        await generator.__anext__()
    except StopAsyncIteration:
        return
    await generator.aclose()
    message = (
        f"generator factory for {describe(key)} yielded more than once; it "
        "must yield exactly one value"
    )
    raise RuntimeError(message)
