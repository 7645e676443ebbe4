"""mainspring: services wired by type hints, started and stopped in order.

Declare services with `service`, hand them to a `Container`, and let it
build, start, check and stop them.
"""

from mainspring._container import Container
from mainspring._registry import Registry, default_registry, service
from mainspring.exceptions import (
    CircularDependencyError,
    DuplicateServiceError,
    InvalidProviderError,
    MainspringError,
    MissingDependencyError,
    NotRunningError,
    ScopeError,
    ServiceFailedError,
    ShutdownError,
    StartupError,
    StateError,
    UnknownServiceError,
)

__version__ = "0.1.0"

__all__ = [
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
