"""The e2e harness fixtures (real daemon + sim + receiver), shared with these tests."""

from tests.e2e.conftest import harness, sim  # noqa: F401
