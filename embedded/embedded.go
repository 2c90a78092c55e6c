// Package embedded carries the files dataeco installs, compiled into the binary so that one
// downloaded file is all a user needs. It holds data only; rendering and writing them is the
// installer's job.
package embedded

import _ "embed"

// ComposeTemplate is the text/template source of the stack's compose file. It is rendered
// with the user's answers into <install dir>/docker-compose.yml.
//
//go:embed compose.yaml.tmpl
var ComposeTemplate string

// DagsReadme is written into the dags folder that is mounted into the Airflow containers, so
// the folder explains itself to a user who opens it.
//
//go:embed dags/README.md
var DagsReadme string

// AirflowJobAlive is the healthcheck of Airflow's DAG processor and triggerer, built into
// the Airflow image dataeco builds (/opt/dataeco/job_alive.py): `airflow jobs check`'s
// question asked of the metadata database in milliseconds instead of seconds.
//
//go:embed airflow/job_alive.py
var AirflowJobAlive []byte
