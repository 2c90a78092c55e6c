"""Shared fixtures: where the real servers are, and clients for them.

The servers come from ``stack.py start`` (or ``ci.sh``), which writes run/env. Outside CI a
missing stack skips the tests that need it; under CI=true it fails them, so a broken set-up
can never pass as "nothing to test".
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

import pytest

REALSTACK = Path(__file__).resolve().parents[1]
REPO = REALSTACK.parents[1]
PIPELINE = REPO / "embedded" / "pipeline"
DAGS = PIPELINE / "dags"
ENV_FILE = REALSTACK / "run" / "env"

# Tests import the DAG helper straight from the tree; leave no .pyc files in it.
sys.dont_write_bytecode = True
sys.path.insert(0, str(DAGS))
sys.path.insert(0, str(REALSTACK))

from stack import cql_statements  # noqa: E402  (one CQL splitter for start-up and tests)

IN_CI = os.environ.get("CI", "").lower() == "true"


def _stack_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith("REALSTACK_")}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            m = re.fullmatch(r"export (\w+)='(.*)'", line.strip())
            if m:
                env.setdefault(m.group(1), m.group(2))
    return env


def missing(what: str):
    if IN_CI:
        pytest.fail(f"{what} (CI=true: nothing may be skipped)", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="session")
def stack() -> dict[str, str]:
    env = _stack_env()
    needed = ("REALSTACK_KAFKA_BOOTSTRAP", "REALSTACK_CASSANDRA_PORT",
              "REALSTACK_CASSANDRA_USER", "REALSTACK_CASSANDRA_PASSWORD")
    absent = [k for k in needed if k not in env]
    if absent:
        missing(f"real stack not running ({', '.join(absent)} unset): run stack.py start")
    return env


@pytest.fixture(scope="session")
def bootstrap(stack) -> str:
    return stack["REALSTACK_KAFKA_BOOTSTRAP"]


@pytest.fixture
def new_topic(bootstrap):
    """A fresh single-partition topic per test, like the stack's init creates users_created."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    name = f"users_created_{uuid.uuid4().hex[:8]}"
    futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    futures[name].result(30)
    return name


@pytest.fixture(scope="session")
def cassandra(stack):
    """A session as the generated superuser; the schema from cql/schema.cql is applied."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    cluster = Cluster([stack.get("REALSTACK_CASSANDRA_HOST", "127.0.0.1")],
                      port=int(stack["REALSTACK_CASSANDRA_PORT"]),
                      auth_provider=PlainTextAuthProvider(stack["REALSTACK_CASSANDRA_USER"],
                                                          stack["REALSTACK_CASSANDRA_PASSWORD"]))
    session = cluster.connect()
    for statement in cql_statements(PIPELINE / "cql" / "schema.cql"):
        session.execute(statement)
    yield session
    cluster.shutdown()


