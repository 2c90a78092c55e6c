// Package pipeline carries the data pipeline that dataeco installs beside the stack: the
// Airflow DAG that produces users to Kafka, the Spark job that streams them into Cassandra,
// the CQL that creates their table, and the Python packages the DAG needs in Airflow.
//
// The files are kept as they are installed, so they can be read, linted and tested as Python
// and CQL; the tests that run them against real Kafka, Cassandra, Spark and Airflow live in
// testdata/realstack.
package pipeline

import "embed"

// The pipeline's names, which the compose file passes to the DAG and the job, and which the
// smoke checks look for. The Python files and schema.cql default to the same names.
const (
	Topic    = "users_created"
	Keyspace = "spark_streams"
	Table    = "created_users"
	// App is the streaming job's Spark application name.
	App = "dataeco-stream-users"
)

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
