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
