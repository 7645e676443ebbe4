"""One adapter module per peer library, each exposing ``ADAPTER``."""

PEERS = (
    "dishka",
    "wireup",
    "diwire",
    "dependency_injector",
    "rodi",
    "lagom",
    "injector",
    "punq",
    "svcs",
    "that_depends",
)
