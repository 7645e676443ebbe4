"""Shared test configuration.

Hypothesis profiles, chosen with the ``HYPOTHESIS_PROFILE`` environment
variable:

- ``ci`` (the default): a bounded number of examples drawn from a fixed
  seed, so that every CI run tries the same cases and stays fast.
- ``thorough``: many more examples from a fresh seed each run, for a
  longer search on demand::

      HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_properties.py

- ``mutation``: fewer examples, picked automatically under mutmut, which
  runs the tests once per mutant (see docs/contributing.md).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Mutation testing runs the tests once per mutant, so fewer examples each.
settings.register_profile(
    "mutation",
    parent=settings.get_profile("ci"),
    max_examples=15,
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("mutation" if "MUTANT_UNDER_TEST" in os.environ else "ci")
)
