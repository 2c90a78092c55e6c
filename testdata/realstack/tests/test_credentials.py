"""No well-known password opens the real servers, set up the way the stack sets them up.

The images' and the seed's defaults are airflow/airflow for PostgreSQL, admin/admin and
airflow/airflow for Airflow, cassandra/cassandra for Cassandra. stack.py start does what the
stack's init jobs do (generated passwords, the default Cassandra superuser disabled); each
default is refused here while the generated credentials work.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from conftest import missing


@pytest.fixture(scope="module")
def servers(stack):
    needed = ("REALSTACK_POSTGRES_URL", "REALSTACK_AIRFLOW_URL", "REALSTACK_AIRFLOW_PASSWORD")
    absent = [k for k in needed if k not in stack]
    if absent:
        missing(f"real stack without {', '.join(absent)}: is stack.py up to date?")
    return stack


def postgres_login(url: str, user: str, password: str):
    import psycopg2

    u = urlsplit(url.replace("postgresql+psycopg2", "postgresql"))
    return psycopg2.connect(host=u.hostname, port=u.port, user=user, password=password,
                            dbname=u.path.lstrip("/"), connect_timeout=5)


@pytest.mark.parametrize("user,password", [("airflow", "airflow"), ("postgres", "postgres"),
                                           ("postgres", "airflow")])
def test_postgres_refuses_default_passwords(servers, user, password):
    import psycopg2

    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        postgres_login(servers["REALSTACK_POSTGRES_URL"], user, password)


def test_postgres_takes_the_generated_password(servers):
    u = urlsplit(servers["REALSTACK_POSTGRES_URL"])
    conn = postgres_login(servers["REALSTACK_POSTGRES_URL"], u.username, u.password)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM dag")  # Airflow's own metadata
        assert cur.fetchone()[0] >= 1
    conn.close()


def airflow_token(url: str, user: str, password: str) -> int:
    req = urllib.request.Request(f"{url}/auth/token", method="POST",
                                 data=json.dumps({"username": user, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as resp:
            assert json.loads(resp.read())["access_token"]
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("user,password", [("admin", "admin"), ("airflow", "airflow")])
def test_airflow_refuses_default_passwords(servers, user, password):
    assert airflow_token(servers["REALSTACK_AIRFLOW_URL"], user, password) == 401


def test_airflow_takes_the_generated_admin(servers):
    assert airflow_token(servers["REALSTACK_AIRFLOW_URL"], servers["REALSTACK_AIRFLOW_USER"],
                         servers["REALSTACK_AIRFLOW_PASSWORD"]) in (200, 201)


def test_cassandra_refuses_its_default_superuser(servers):
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster, NoHostAvailable

    cluster = Cluster([servers.get("REALSTACK_CASSANDRA_HOST", "127.0.0.1")],
                      port=int(servers["REALSTACK_CASSANDRA_PORT"]), connect_timeout=5,
                      auth_provider=PlainTextAuthProvider("cassandra", "cassandra"))
    with pytest.raises(NoHostAvailable, match="(?i)authentication|password"):
        cluster.connect()
    cluster.shutdown()
