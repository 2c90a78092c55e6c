"""The Spark job, run by real Spark 3.5.8 (local[2]) with the real connectors, from a real
Kafka topic into a real Cassandra 5.0 with authentication on.

One test walks the job through its life, because every spark-submit costs ~30 s of JVM start
on two cores: a first run lands the records, a second run from the same checkpoint takes only
the new ones, and a run killed mid-stream and restarted loses and duplicates nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import pyspark

import dataeco_users
from conftest import PIPELINE, REALSTACK

JOB = PIPELINE / "spark" / "stream_users.py"
# The Scala 2.12 builds for Spark 3.5, shared with setup.sh; see stream_users.py for why
# Kafka's is 3.5.7.
PACKAGES = ",".join((REALSTACK / "spark-packages.txt").read_text().split())
CACHE = Path(os.environ.get("REALSTACK_CACHE", Path.home() / ".cache" / "dataeco-realstack"))


def spark_submit(stack: dict, topic: str, table: str, checkpoint: Path, trigger: str,
                 log: Path, master: str = "local[2]") -> subprocess.Popen:
    env = dict(os.environ)
    env.update({
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "KAFKA_BOOTSTRAP": stack["REALSTACK_KAFKA_BOOTSTRAP"],
        "KAFKA_TOPIC": topic,
        "CASSANDRA_HOST": stack.get("REALSTACK_CASSANDRA_HOST", "127.0.0.1"),
        "CASSANDRA_PORT": stack["REALSTACK_CASSANDRA_PORT"],
        "CASSANDRA_USER": stack["REALSTACK_CASSANDRA_USER"],
        "CASSANDRA_PASSWORD": stack["REALSTACK_CASSANDRA_PASSWORD"],
        "CASSANDRA_TABLE": table,
        "CHECKPOINT_DIR": str(checkpoint),
        "STREAM_TRIGGER": trigger,
        "SPARK_LOCAL_IP": "127.0.0.1",
    })
    argv = [str(Path(sys.executable).parent / "spark-submit"),
            "--master", master,
            "--conf", "spark.executor.memory=512m",
            "--driver-memory", "1g",
            "--packages", PACKAGES,
            "--conf", f"spark.jars.ivy={CACHE / 'ivy'}",
            "--conf", f"spark.jars.ivySettings={REALSTACK / 'ivysettings.xml'}",
            "--conf", "spark.ui.enabled=false",
            str(JOB)]
    out = open(log, "ab")
    return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def finish(proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"spark job still running after {timeout}s; see {log}")
    assert rc == 0, f"spark job exited {rc}:\n{log.read_text(errors='replace')[-4000:]}"


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def send(bootstrap: str, topic: str, count: int) -> list[dict]:
    records = dataeco_users.make_records(count)
    assert dataeco_users.produce(records, bootstrap, topic) == count
    return records


def send_raw(bootstrap: str, topic: str, values: list[bytes]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0


def rows(session, table: str) -> dict[str, dict]:
    result = session.execute(f"SELECT * FROM spark_streams.{table}")
    return {str(row.id): row._asdict() for row in result}


def wait_rows(session, table: str, expected: int, proc: subprocess.Popen, log: Path,
              timeout: float = 240) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(session, table)
        if len(found) >= expected:
            return found
        if proc.poll() is not None:
            pytest.fail(f"spark job exited {proc.returncode} with {len(found)}/{expected} rows:\n"
                        f"{log.read_text(errors='replace')[-4000:]}")
        time.sleep(2)
    pytest.fail(f"{len(rows(session, table))}/{expected} rows after {timeout}s; see {log}")


def assert_landed(found: dict[str, dict], records: list[dict]) -> None:
    assert set(found) == {r["id"] for r in records}
    for record in records:
        row = found[record["id"]]
        assert isinstance(row["id"], uuid.UUID)
        assert str(row["id"]) == record["id"]
        assert {k: v for k, v in row.items() if k != "id"} == \
            {k: v for k, v in record.items() if k != "id"}


@pytest.fixture
def table(cassandra):
    # The table of cql/schema.cql under a fresh name, so runs never see each other's rows.
    name = f"created_users_{uuid.uuid4().hex[:8]}"
    cassandra.execute(schema_table_cql().replace("spark_streams.created_users",
                                                 f"spark_streams.{name}"))
    yield name
    cassandra.execute(f"DROP TABLE IF EXISTS spark_streams.{name}")


def schema_table_cql() -> str:
    from conftest import cql_statements

    (statement,) = [s for s in cql_statements(PIPELINE / "cql" / "schema.cql")
                    if s.startswith("CREATE TABLE")]
    return statement


def test_stream_lands_every_record_once_across_restarts(stack, bootstrap, new_topic, table,
                                                        cassandra, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    log = tmp_path / "spark.log"

    # 1. Records already on the topic when the job first starts all land, every column right.
    first = send(bootstrap, new_topic, 12)
    # What a broken producer might send: the job drops these instead of dying on them.
    send_raw(bootstrap, new_topic, [b"not json", b'{"id": "not-a-uuid", "first_name": "x"}'])
    finish(spark_submit(stack, new_topic, table, checkpoint, "availableNow", log), log)
    found = rows(cassandra, table)
    assert_landed(found, first)
    assert "dropped 2 malformed" in log.read_text(errors="replace")

    # 2. A restart from the checkpoint reads only what came after it.
    second = send(bootstrap, new_topic, 8)
    finish(spark_submit(stack, new_topic, table, checkpoint, "availableNow", log), log)
    assert_landed(rows(cassandra, table), first + second)
    assert log.read_text(errors="replace").count("wrote 8 users") == 1

    # 3. A job killed without warning (kill -9, as an OOM kill would) while it streams, then
    #    restarted: nothing is lost and, the id being the key, nothing is doubled.
    live = spark_submit(stack, new_topic, table, checkpoint, "2 seconds", log)
    try:
        third = send(bootstrap, new_topic, 10)
        wait_rows(cassandra, table, 30, live, log)
        kill(live)
        fourth = send(bootstrap, new_topic, 10)
        live = spark_submit(stack, new_topic, table, checkpoint, "2 seconds", log)
        found = wait_rows(cassandra, table, 40, live, log)
    finally:
        kill(live)
    everything = first + second + third + fourth
    assert len(found) == 40
    assert_landed(found, everything)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def standalone(tmp_path):
    """A Spark standalone master and one worker, as the stack runs them (spark-class daemons)."""
    spark_home = Path(pyspark.__file__).parent
    env = dict(os.environ, SPARK_HOME=str(spark_home), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable, SPARK_WORKER_DIR=str(tmp_path / "work"))
    port = free_port()
    master_url = f"spark://127.0.0.1:{port}"
    daemons = []

    def daemon(name: str, *args: str) -> Path:
        log = tmp_path / f"{name}.log"
        daemons.append(subprocess.Popen(
            [str(spark_home / "bin" / "spark-class"), *args], env=env, stdout=open(log, "wb"),
            stderr=subprocess.STDOUT, start_new_session=True))
        return log

    try:
        daemon("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
               "--port", str(port), "--webui-port", str(free_port()))
        worker_log = daemon("worker", "org.apache.spark.deploy.worker.Worker", "--cores", "1",
                            "--memory", "1g", "--webui-port", str(free_port()), master_url)
        deadline = time.monotonic() + 90
        while "Successfully registered with master" not in worker_log.read_text(errors="replace"):
            if time.monotonic() > deadline or any(d.poll() is not None for d in daemons):
                pytest.fail(f"Spark worker did not register:\n{worker_log.read_text()[-3000:]}")
            time.sleep(1)
        yield master_url
    finally:
        for d in reversed(daemons):
            kill(d)


def test_stream_runs_on_a_standalone_cluster(stack, bootstrap, new_topic, table, cassandra,
                                             standalone, tmp_path):
    # What the compose file does: spark-submit in client mode against a master, the work done
    # by an executor in a worker, which gets the connectors from the driver.
    records = send(bootstrap, new_topic, 6)
    log = tmp_path / "spark.log"
    finish(spark_submit(stack, new_topic, table, tmp_path / "checkpoint", "availableNow", log,
                        master=standalone), log)
    assert_landed(rows(cassandra, table), records)
