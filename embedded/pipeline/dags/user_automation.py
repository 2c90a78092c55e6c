"""user_automation: sends a few made-up users to Kafka on a schedule.

The first stage of the dataeco pipeline. Each run produces DATAECO_USERS_PER_RUN records to the
``users_created`` topic; the spark-stream service carries them into Cassandra
(``spark_streams.created_users``). Settings and the record format are described in
``dataeco_users.py`` beside this file. Nothing is caught here: a failed delivery fails the task.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from airflow.sdk import dag, task

# The helper sits beside this file. Airflow only puts its configured dags_folder on sys.path;
# read from anywhere else (another bundle, a DagBag given a path) the import would fail.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import dataeco_users  # noqa: E402


@dag(
    dag_id="user_automation",
    description="Produce generated users to the users_created Kafka topic",
    schedule=dataeco_users.schedule(),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    # A dev stack switched on after days off should not replay every missed minute.
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "dataeco", "retries": 0},
    tags=["dataeco", "kafka"],
)
def user_automation():
    @task(task_id="stream_users", execution_timeout=dt.timedelta(minutes=2))
    def stream_users() -> int:
        sent = dataeco_users.run()
        print(f"sent {sent} users to {dataeco_users.topic()} on {dataeco_users.bootstrap()}")
        return sent

    stream_users()


user_automation()
