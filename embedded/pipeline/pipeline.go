// Package pipeline carries the data pipeline that dataeco installs beside the stack: the
// Airflow DAG that produces users to Kafka, the Spark job that streams them into Cassandra,
// the CQL that creates their table, and the Python packages the DAG needs in Airflow.
//
// The files are kept as they are installed, so they can be read, linted and tested as Python
// and CQL; the tests that run them against real Kafka, Cassandra, Spark and Airflow live in
// testdata/realstack.
package pipeline

import "embed"

// Files holds, relative to this directory:
//
//	dags/user_automation.py      the Airflow 3 DAG (mounted at /opt/airflow/dags)
//	dags/dataeco_users.py        the generator and producer the DAG imports
//	spark/stream_users.py        the Structured Streaming job for spark-submit
//	cql/schema.cql               keyspace spark_streams and table created_users, idempotent
//	requirements-airflow.txt     for _PIP_ADDITIONAL_REQUIREMENTS in the Airflow containers
//
//go:embed dags/*.py spark/*.py cql/*.cql requirements-airflow.txt
var Files embed.FS
