"""The public names: what ``mainspring`` exports and how its errors relate."""

from importlib.metadata import version

import pytest

import mainspring

EXPECTED_ALL = sorted(
    [
        "CircularDependencyError",
        "Container",
        "DuplicateServiceError",
        "InvalidProviderError",
        "MainspringError",
        "MissingDependencyError",
        "NotRunningError",
        "Registry",
        "ScopeError",
        "ServiceFailedError",
        "ShutdownError",
        "StartupError",
        "StateError",
        "UnknownServiceError",
        "__version__",
        "default_registry",
        "service",
    ]
)

ERROR_NAMES = [name for name in EXPECTED_ALL if name.endswith("Error")]


def test_all_lists_exactly_the_public_names():
    """``__all__`` is sorted and names every public object, nothing more."""
    names = mainspring.__all__

    assert names == EXPECTED_ALL


def test_every_name_in_all_is_an_attribute():
    """Each exported name can be imported from the package."""
    missing = [
        name for name in mainspring.__all__ if not hasattr(mainspring, name)
    ]

    assert missing == []


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_every_error_derives_from_mainspring_error(name):
    """One ``except MainspringError`` catches every error of the library."""
    error = getattr(mainspring, name)

    assert isinstance(error, type)
    assert issubclass(error, mainspring.MainspringError)


def test_mainspring_error_is_an_exception():
    """The base error is an ordinary `Exception`, not a `BaseException`."""
    assert issubclass(mainspring.MainspringError, Exception)


def test_unknown_service_error_is_a_lookup_error():
    """Code that already catches `LookupError` catches an unknown key."""
    assert issubclass(mainspring.UnknownServiceError, LookupError)


def test_shutdown_error_is_an_exception_group():
    """Every failed stop is a member of one group, for ``except*``."""
    assert issubclass(mainspring.ShutdownError, ExceptionGroup)


def test_version_matches_the_installed_distribution():
    """``__version__`` agrees with the version in ``pyproject.toml``."""
    installed = version("mainspring")

    assert mainspring.__version__ == installed
