"""Stand-ins for modules that ``import mainspring`` does not load.

``typing_extensions`` and ``logging`` together cost more to import than
the rest of mainspring; neither is needed until an annotation of ours is
evaluated or a message is logged. ``benchmarks/run.py --only import``
measures the difference.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

_DEBUG = 10  # logging.DEBUG, without importing logging


class _TypeForm:
    """``typing_extensions.TypeForm``, imported when first subscripted.

    Type checkers see the real name (see `_container`); at run time this
    object only ever appears in annotations, and ``typing.get_type_hints``
    subscripts it, which returns the real ``TypeForm[T]``.
    """

    __slots__ = ()

    def __getitem__(self, item: object) -> Any:
        from typing_extensions import TypeForm  # noqa: PLC0415

        return TypeForm[item]

    def __repr__(self) -> str:
        return "TypeForm"


TypeForm: Any = _TypeForm()


class Logger:
    """The ``mainspring`` logger, looked up once ``logging`` is imported.

    Until an application imports ``logging``, no handler or level can have
    been set, so a DEBUG or INFO record would be dropped anyway: the calls
    return at once. Warnings and errors go through the real logger, which
    `_lifecycle` uses directly.
    """

    __slots__ = ("_logger",)

    def __init__(self) -> None:
        self._logger: logging.Logger | None = None

    def _find(self) -> logging.Logger | None:
        logger = self._logger
        if logger is None:
            module = sys.modules.get("logging")
            if module is None:
                return None
            logger = self._logger = module.getLogger("mainspring")
        return logger

    def is_debug(self) -> bool:
        """Tell whether a DEBUG record would be handled."""
        logger = self._find()
        return logger is not None and logger.isEnabledFor(_DEBUG)

    def debug(self, message: str, *args: object) -> None:
        """Log at DEBUG, %-style, if anything listens."""
        logger = self._find()
        if logger is not None:
            # Level 2: the record names the caller, not this method.
            logger.debug(message, *args, stacklevel=2)


log = Logger()
"""Shared by the modules that load before the lifecycle."""
