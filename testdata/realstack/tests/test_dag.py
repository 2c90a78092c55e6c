"""The user_automation DAG in real Airflow 3: parsed by a DagBag, and run by `airflow dags test`.

Airflow reads its configuration once per process, so each check runs Airflow in a child
process with its own AIRFLOW_HOME (SQLite metadata: enough for parsing and `dags test`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import DAGS, REALSTACK
from test_producer import assert_well_formed, consume_all

PROBE = textwrap.dedent("""
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    dag = bag.dags.get("user_automation")
    print("RESULT " + json.dumps({
        "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dag_ids": sorted(bag.dag_ids),
        "task_ids": dag.task_ids if dag else None,
        "cron": getattr(dag.timetable, "expression", None) if dag else None,
        "catchup": dag.catchup if dag else None,
        "max_active_runs": dag.max_active_runs if dag else None,
    }))
""")


@pytest.fixture
def airflow_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DATAECO_"))}
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        # The repository's dags folder must stay free of .pyc files written by these runs.
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def airflow_bin(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def parse(env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(DAGS)], env=env, cwd=REALSTACK,
                          capture_output=True, text=True, timeout=180)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_dagbag_loads_user_automation_without_errors(airflow_env):
    result = parse(airflow_env)
    assert result["import_errors"] == {}
    assert result["dag_ids"] == ["user_automation"]
    assert result["task_ids"] == ["stream_users"]
    assert result["cron"] == "* * * * *"
    assert result["catchup"] is False
    assert result["max_active_runs"] == 1


def test_schedule_comes_from_the_environment(airflow_env):
    airflow_env["DATAECO_USERS_SCHEDULE"] = "*/5 * * * *"
    result = parse(airflow_env)
    assert result["import_errors"] == {}
    assert result["cron"] == "*/5 * * * *"


def dags_test(env: dict) -> subprocess.CompletedProcess:
    subprocess.run([airflow_bin("airflow"), "db", "migrate"], env=env, cwd=REALSTACK,
                   check=True, capture_output=True, timeout=300)
    return subprocess.run([airflow_bin("airflow"), "dags", "test", "user_automation"],
                          env=env, cwd=REALSTACK, capture_output=True, text=True, timeout=300)


def test_a_dag_run_puts_users_on_kafka(airflow_env, bootstrap, new_topic):
    airflow_env.update({"DATAECO_KAFKA_BOOTSTRAP": bootstrap, "DATAECO_USERS_TOPIC": new_topic,
                        "DATAECO_USERS_PER_RUN": "3"})
    proc = dags_test(airflow_env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "new_state=success" in output, output[-4000:]

    messages = consume_all(bootstrap, new_topic, 3)
    assert len(messages) == 3
    for msg in messages:
        assert_well_formed(json.loads(msg.value()))


def test_a_dag_run_fails_when_kafka_is_down(airflow_env, new_topic):
    # The original DAG swallowed every exception and reported success with nothing sent.
    airflow_env.update({"DATAECO_KAFKA_BOOTSTRAP": "127.0.0.1:9", "DATAECO_USERS_TOPIC": new_topic,
                        "DATAECO_KAFKA_TIMEOUT": "3"})
    proc = dags_test(airflow_env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    assert "DeliveryError" in output and "new_state=failed" in output, output[-4000:]
