"""Exit 0 when this container's Airflow job is alive, 1 when it is not.

job_alive.py JOB_TYPE [HOSTNAME]

The healthcheck of Airflow's DAG processor (JOB_TYPE DagProcessorJob) and triggerer
(TriggererJob). It asks the same question as `airflow jobs check --job-type JOB_TYPE
--hostname HOSTNAME`: is there a job of that type on that host in state running whose last
heartbeat is younger than Airflow's threshold for it? It asks the metadata database directly
with psycopg2, which the image has for PostgreSQL, instead of starting Airflow: a few tens of
milliseconds of CPU where `airflow jobs check` costs 5-6 seconds, so the check can run every
few seconds and a dependent, or `dataeco install`, need not wait half a minute for it.

The database is AIRFLOW__DATABASE__SQL_ALCHEMY_CONN; the thresholds are Airflow's own
settings, read from the environment as Airflow would (default 30 seconds). Without HOSTNAME a
job on any host counts, as with `airflow jobs check` without --hostname; the healthchecks pass
the container's own, which is what Airflow records there.
"""

import os
import sys

import psycopg2

THRESHOLDS = {
    "DagProcessorJob": "AIRFLOW__DAG_PROCESSOR__HEALTH_CHECK_THRESHOLD",
    "TriggererJob": "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD",
    "SchedulerJob": "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD",
}


def libpq_url(sqlalchemy_url):
    """postgresql+psycopg2://u:p@h:5432/db -> postgresql://u:p@h:5432/db (libpq's form)."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise ValueError("not a PostgreSQL URL: " + scheme)
    return "postgresql://" + rest


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in THRESHOLDS:
        print("usage: job_alive.py {%s} [HOSTNAME]" % ",".join(THRESHOLDS), file=sys.stderr)
        return 2
    job_type = argv[1]
    hostname = argv[2] if len(argv) == 3 and argv[2] else None
    where = "on " + hostname if hostname else "on any host"
    threshold = float(os.environ.get(THRESHOLDS[job_type]) or 30)
    try:
        conn_url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        if not conn_url:
            raise ValueError("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is not set")
        url = libpq_url(conn_url)
        # Bounded: Engine 20.10 does not stop a check that overruns its timeout.
        conn = psycopg2.connect(url, connect_timeout=5, options="-c statement_timeout=5000",
                                application_name="dataeco-job-alive")
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*), min(extract(epoch FROM now() - latest_heartbeat))"
                    " FROM job WHERE job_type = %s AND (%s IS NULL OR hostname = %s) AND state = 'running'"
                    " AND latest_heartbeat > now() - make_interval(secs => %s)",
                    (job_type, hostname, hostname, threshold),
                )
                alive, age = cur.fetchone()
        finally:
            conn.close()
    except (ValueError, psycopg2.Error) as e:
        print("%s %s: cannot ask the metadata database: %s" % (job_type, where, str(e).strip()), file=sys.stderr)
        return 1
    if alive == 0:
        print("%s %s: no running job with a heartbeat in the last %gs" % (job_type, where, threshold), file=sys.stderr)
        return 1
    print("%s %s: alive, last heartbeat %.1fs ago" % (job_type, where, age))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
