package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Airflow metadata database's migration state. The real `airflow db
// migrate` runs Alembic, which records the schema revision in the table
// alembic_version; `airflow db check-migrations` and every Airflow
// component compare it with the head revision of the installed Airflow. The
// stand-in does the same against the stand-in PostgreSQL, which keeps
// alembic_version per database (see postgres.go), so a database that was
// never migrated stays unmigrated across container restarts.

// airflowPackageVersion is the image's Airflow version: $AIRFLOW_VERSION as
// in the real image, else the version part of the image tag.
func airflowPackageVersion() string {
	return envOr("AIRFLOW_VERSION", versionPrefix(os.Getenv("STANDIN_VERSION"), "3.1.3"))
}

// airflowMigrationHead is the stand-in's Alembic head revision for this
// Airflow version: 12 hex digits like a real revision, derived from the
// version, so that another version needs another migration.
func airflowMigrationHead() string {
	sum := sha256.Sum256([]byte("dataeco stand-in apache-airflow " + airflowPackageVersion()))
	return hex.EncodeToString(sum[:])[:12]
}

// airflowMigrationPoll is check-migrations' interval (a second, as in
// Airflow); tests shorten it.
var airflowMigrationPoll = time.Second

const airflowDBModule = "/home/airflow/.local/lib/python3.12/site-packages/airflow/utils/db.py"

// airflowDBSession logs in to the metadata database of
// AIRFLOW__DATABASE__SQL_ALCHEMY_CONN. The error is errNotStandinPG when
// something else answers there.
func airflowDBSession() (*pgConn, airflowDB, error) {
	conn := os.Getenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
	if conn == "" {
		return nil, airflowDB{}, errors.New("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is not set (the stand-in has no SQLite database)")
	}
	d, err := parseSQLAlchemyConn(conn)
	if err != nil {
		return nil, d, err
	}
	p, err := pgDial(d.Host, d.Port, 5*time.Second)
	if err != nil {
		if errors.Is(err, errNotStandinPG) {
			return nil, d, err
		}
		return nil, d, fmt.Errorf("sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at %q, port %d failed: %s", d.Host, d.Port, connErrText(err))
	}
	resp, err := p.do(pgRequest{Op: "startup", User: d.User, Database: d.DB, Password: d.Password})
	if err == nil && !resp.OK {
		err = errors.New(resp.Error)
	}
	if err != nil {
		p.Close()
		return nil, d, fmt.Errorf("sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at %q, port %d failed: %v", d.Host, d.Port, err)
	}
	return p, d, nil
}

// airflowDBHeads reads alembic_version: the revisions the database is at,
// none when it was never migrated.
func airflowDBHeads(p *pgConn) ([]string, error) {
	resp, err := p.do(pgRequest{Op: "query", SQL: "SELECT version_num FROM alembic_version"})
	if err != nil {
		return nil, fmt.Errorf("sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly: %v", err)
	}
	if !resp.OK {
		if strings.Contains(resp.Error, `relation "alembic_version" does not exist`) {
			return nil, nil
		}
		return nil, fmt.Errorf("sqlalchemy.exc.ProgrammingError: (psycopg2.errors.SyntaxError) %s", resp.Error)
	}
	var heads []string
	for _, r := range resp.Rows {
		if len(r) > 0 {
			heads = append(heads, r[0])
		}
	}
	slices.Sort(heads)
	return heads, nil
}

// pySet renders a set of strings as Python prints it.
func pySet(items []string) string {
	if len(items) == 0 {
		return "set()"
	}
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = "'" + s + "'"
	}
	return "{" + strings.Join(q, ", ") + "}"
}

func migrateFailKnob() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("STANDIN_MIGRATE_FAIL")))
	return v != "" && v != "0" && v != "false" && v != "no"
}

// airflowDBMigrate is `airflow db migrate`: it brings alembic_version to
// the head revision (creating the table in a new database) and returns the
// exit code. STANDIN_MIGRATE_FAIL=1 makes it fail before it changes
// anything.
func airflowDBMigrate(stdout, stderr io.Writer) int {
	conn := redactConn(os.Getenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
	fmt.Fprintf(stdout, "DB: %s\n", conn)
	fmt.Fprintf(stdout, "Performing upgrade to the metadata database %s\n", conn)
	if migrateFailKnob() {
		fmt.Fprintf(stderr, "Traceback (most recent call last):\n  File \"%s\", in upgradedb\nRuntimeError: standin: airflow db migrate failed by STANDIN_MIGRATE_FAIL\n", airflowDBModule)
		return 1
	}
	p, _, err := airflowDBSession()
	if errors.Is(err, errNotStandinPG) {
		fmt.Fprintln(stdout, "standin: the metadata database is not the stand-in PostgreSQL; nothing recorded")
		fmt.Fprintln(stdout, "Database migrating done!")
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer p.Close()
	heads, err := airflowDBHeads(p)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	head := airflowMigrationHead()
	var stmts []string
	switch {
	case len(heads) == 0:
		logf("Creating Airflow database tables from the ORM")
		logf("Running stamp_revision  -> %s", head)
		stmts = []string{
			"CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
			"INSERT INTO alembic_version (version_num) VALUES ('" + head + "')",
		}
	case len(heads) == 1 && heads[0] == head:
		logf("Migrating the Airflow database: already at %s", head)
	default:
		logf("Migrating the Airflow database")
		logf("Running upgrade %s -> %s", strings.Join(heads, ", "), head)
		stmts = []string{"DELETE FROM alembic_version", "INSERT INTO alembic_version (version_num) VALUES ('" + head + "')"}
	}
	for _, q := range stmts {
		resp, err := p.do(pgRequest{Op: "query", SQL: q})
		if err == nil && !resp.OK {
			err = errors.New(resp.Error)
		}
		if err != nil {
			fmt.Fprintf(stderr, "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) %v\n", err)
			return 1
		}
	}
	fmt.Fprintln(stdout, "Database migrating done!")
	return 0
}

// airflowUsersCreate is the entrypoint's `airflow users create`. The user
// table exists only in a migrated database; users are not stored.
func airflowUsersCreate(user, role string, stdout, stderr io.Writer) int {
	p, _, err := airflowDBSession()
	if errors.Is(err, errNotStandinPG) {
		fmt.Fprintf(stdout, "User %q created with role %q\n", user, role)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer p.Close()
	heads, err := airflowDBHeads(p)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(heads) == 0 {
		fmt.Fprintln(stderr, `sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedTable) relation "ab_user" does not exist`)
		return 1
	}
	fmt.Fprintf(stdout, "User %q created with role %q\n", user, role)
	return 0
}

// airflowCheckMigrations is `airflow db check-migrations -t TIMEOUT`: it
// returns 0 as soon as the database is at the head revision, checking once
// a second for up to timeout seconds, else prints Airflow's TimeoutError
// and returns 1.
func airflowCheckMigrations(timeout int, stdout, stderr io.Writer) int {
	if timeout <= 0 {
		timeout = 1 // Airflow: "run the loop at least 1"
	}
	p, _, err := airflowDBSession()
	if errors.Is(err, errNotStandinPG) {
		fmt.Fprintln(stdout, "standin: the metadata database is not the stand-in PostgreSQL; migrations not checked")
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer p.Close()
	head := airflowMigrationHead()
	var heads []string
	for ticker := 0; ticker < timeout; ticker++ {
		if heads, err = airflowDBHeads(p); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if len(heads) == 1 && heads[0] == head {
			return 0
		}
		time.Sleep(airflowMigrationPoll)
		logf("Waiting for migrations... %d second(s)", ticker)
	}
	fmt.Fprintf(stderr, "Traceback (most recent call last):\n  File \"/home/airflow/.local/bin/airflow\", in <module>\n  File \"%s\", in check_migrations\n", airflowDBModule)
	fmt.Fprintf(stderr, "TimeoutError: There are still unapplied migrations after %d seconds. MigrationHead(s) in DB: %s | Migration Head(s) in Source Code: %s\n",
		timeout, pySet(heads), pySet([]string{head}))
	return 1
}

// airflowRequireMigrated is the check every real Airflow component makes
// at start ([database] check_migrations): a database that is not at this
// version's head revision stops it with exit 1.
func airflowRequireMigrated() error {
	p, _, err := airflowDBSession()
	if err != nil {
		if !errors.Is(err, errNotStandinPG) && os.Getenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") != "" {
			return exitWith(1, "%v", err)
		}
		return nil
	}
	defer p.Close()
	heads, err := airflowDBHeads(p)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	verb := ""
	switch {
	case len(heads) == 0:
		verb = "initialize"
	case len(heads) != 1 || heads[0] != airflowMigrationHead():
		verb = "migrate"
	}
	if verb != "" {
		return exitWith(1, "ERROR: You need to %s the database. Please run `airflow db migrate`. Make sure the command is run using Airflow version %s.", verb, airflowPackageVersion())
	}
	return nil
}

// parseCheckMigrationsArgs reads `db check-migrations` options:
// -t/--migration-wait-timeout SECONDS (default 60).
func parseCheckMigrationsArgs(args []string) (int, error) {
	timeout := 60
	for i := 0; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		if strings.HasPrefix(args[i], "-t") && len(args[i]) > 2 && !strings.HasPrefix(args[i], "--") {
			flag, val, hasVal = "-t", args[i][2:], true
		}
		switch flag {
		case "-t", "--migration-wait-timeout":
			if !hasVal {
				if i+1 >= len(args) {
					return 0, fmt.Errorf("argument -t/--migration-wait-timeout: expected one argument")
				}
				i++
				val = args[i]
			}
			n, err := strconv.Atoi(val)
			if err != nil {
				return 0, fmt.Errorf("argument -t/--migration-wait-timeout: invalid int value: '%s'", val)
			}
			timeout = n
		case "-v", "--verbose":
		default:
			return 0, fmt.Errorf("unrecognized arguments: %s", args[i])
		}
	}
	return timeout, nil
}
