"""What ``import mainspring`` loads, and the stand-ins for what it does not.

``logging`` and ``typing_extensions`` are loaded only when needed; these
tests hold that line, and check that nothing is lost by it: DEBUG records
still reach a configured logger, and our annotations still evaluate.
"""

import logging
import subprocess
import sys
import textwrap
import typing

import pytest
from typing_extensions import TypeForm

from mainspring import Container, InvalidProviderError, Registry
from mainspring._lazy import Logger
from mainspring._registry import Declaration


class Settings:
    pass


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return what it printed."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_loads_no_heavy_module():
    """Importing mainspring loads none of the modules kept out of it.

    Only what mainspring adds counts: the modules that ``inspect`` and
    ``typing`` load themselves differ between Python versions.
    """
    output = run_python(
        """
        import sys
        import inspect, typing
        before = set(sys.modules)
        import mainspring
        heavy = ["asyncio", "logging", "threading", "typing_extensions",
                 "dataclasses", "difflib", "concurrent.futures", "weakref"]
        added = set(sys.modules) - before
        print(",".join(name for name in heavy if name in added))
        """
    )

    assert output.strip() == ""


def test_resolving_without_logging_works_and_stays_quiet():
    """With logging never imported, declaring and resolving log nothing."""
    output = run_python(
        """
        import sys
        from mainspring import Container, InvalidProviderError, Registry
        registry = Registry()

        @registry.service
        class Settings:
            pass

        container = Container(registry)
        print(type(container.get(Settings)).__name__)
        print(container.order[0].__name__)
        print("logging" in sys.modules)
        """
    )

    assert output.split() == ["Settings", "Settings", "False"]


def test_options_are_remembered_weakly_and_only_when_given():
    """Plain @service needs no weak map; @service(...) makes one."""
    preloaded = run_python(
        "import sys, inspect; print('weakref' in sys.modules)"
    )
    if preloaded.strip() == "True":
        pytest.skip("this Python's inspect imports weakref itself")
    output = run_python(
        """
        import sys
        from mainspring import Container, service

        @service
        class Plain:
            pass

        print("weakref" in sys.modules)

        @service(scope="transient")
        class Fresh:
            pass

        container = Container(Fresh)
        print("weakref" in sys.modules, container.get(Fresh) is not None)
        print(container.order)
        """
    )

    assert output.split() == ["False", "True", "True", "[]"]


def test_options_of_an_object_without_weak_references_stay_local():
    """An object that cannot be weakly referenced is known to its registry."""
    registry = Registry()
    plain = object()

    assert registry.service(scope="transient")(plain) is plain
    assert [d.scope for d in registry] == ["transient"]


def test_a_number_declared_after_options_is_left_to_the_container():
    """After any @service(...), a declared number fails in the container."""

    class Optioned:
        pass

    Registry().service(scope="transient")(Optioned)
    registry = Registry()

    assert registry.service(42) == 42
    with pytest.raises(InvalidProviderError, match=r"^42 is neither"):
        Container(registry).order  # noqa: B018


def test_debug_records_name_the_caller(caplog):
    """A DEBUG record points at the mainspring code that logged it."""
    caplog.set_level(logging.DEBUG, logger="mainspring")
    registry = Registry()

    registry.service(Settings)
    container = Container(registry)
    container.register(Settings)
    container.order  # noqa: B018

    messages = [(r.getMessage(), r.funcName) for r in caplog.records]
    assert messages == [
        ("declared Settings", "decorate"),
        ("registered Settings", "_add"),
        ("start order: Settings", "_install"),
    ]


def test_records_below_the_level_are_not_formatted(caplog):
    """At INFO, declaring does not even name the declared class."""
    caplog.set_level(logging.INFO, logger="mainspring")

    class Loud:
        pass

    Registry().service(Loud)

    assert caplog.records == []


def test_logger_stand_in_is_silent_until_logging_is_imported(monkeypatch):
    """Without logging in sys.modules, the stand-in drops DEBUG records."""
    logger = Logger()
    monkeypatch.delitem(sys.modules, "logging")

    logger.debug("nobody listens to %s", "this")

    assert logger.is_debug() is False
    assert logger._logger is None


def test_annotations_of_get_evaluate_to_type_form():
    """typing.get_type_hints reads Container.get as taking a TypeForm."""
    hints = typing.get_type_hints(Container.get)

    returned = hints["return"]

    assert hints["key"] == TypeForm[returned]


def test_declarations_compare_by_provider_and_options():
    """Two declarations made alike are equal; any option tells them apart."""
    one = Declaration(Settings)
    same = Declaration(Settings)
    other = Declaration(Settings, scope="transient")

    assert one == same
    assert hash(one) == hash(same)
    assert one != other
    assert one != "Settings"
    assert repr(other).startswith("Declaration(Settings, provides=None, ")
    assert "scope='transient'" in repr(other)


@pytest.mark.parametrize(
    ("declaration", "is_default"),
    [
        (Declaration(int), True),
        (Declaration(int, scope="transient"), False),
        (Declaration(int, start_timeout=1.0), False),
        (Declaration(int, instance=True), False),
    ],
)
def test_only_declarations_with_options_are_remembered(
    declaration, is_default
):
    """Default options need no record: declaration_of() gives them anyway."""
    assert declaration.is_default() is is_default
