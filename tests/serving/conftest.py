"""Fixtures of the in-process service tests."""

import uuid

import pytest

from tests.service_support import remove_redis_keys


@pytest.fixture
def redis_prefix():
    """A Redis key prefix of this test's own (others use the same Redis database); its keys are removed afterwards."""
    name = f"microlift:test:{uuid.uuid4().hex[:12]}:"
    yield name
    remove_redis_keys(name + "*")
