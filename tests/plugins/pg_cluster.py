"""A PostgreSQL server of a test's own (``bench.pg_cluster``), to stop and start under
RaceDesk: the machine's serves every other test.

Fixture: ``private_pg`` (module-scoped; skipped unless the backend is PostgreSQL and
``initdb`` is installed).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.pg_cluster import PrivateCluster, find_pg_bin, private_cluster
from tests.plugins.database import selected_backend


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivateCluster]:
    if selected_backend() != "postgres":
        pytest.skip("a private PostgreSQL server is for the PostgreSQL run")
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL's initdb is not installed")
    with private_cluster() as cluster:
        yield cluster
