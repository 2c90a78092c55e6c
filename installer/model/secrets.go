package model

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dataeco/dataeco/installer/hint"
)

// Secret keys in the .env file. docker-compose reads that file by itself, so the rendered
// compose file stays free of secrets and still works by hand.
const (
	KeyProjectName         = "COMPOSE_PROJECT_NAME"
	KeyPostgresPassword    = "DATAECO_POSTGRES_PASSWORD"
	KeyAirflowAdminUser    = "DATAECO_AIRFLOW_ADMIN_USER"
	KeyAirflowAdminPass    = "DATAECO_AIRFLOW_ADMIN_PASSWORD"
	KeyAirflowFernet       = "DATAECO_AIRFLOW_FERNET_KEY"
	KeyAirflowSecret       = "DATAECO_AIRFLOW_SECRET_KEY"
	KeyAirflowJWT          = "DATAECO_AIRFLOW_JWT_SECRET"
	KeyCassandraUser       = "DATAECO_CASSANDRA_USER"
	KeyCassandraPassword   = "DATAECO_CASSANDRA_PASSWORD"
	KeyCassandraLockoutPwd = "DATAECO_CASSANDRA_LOCKOUT_PASSWORD"
	// Used only when the ports are published off loopback (Answers.Guarded): the Kafka host
	// listener's SASL user, Spark's shared secret, the HTTP basic-auth logins of Schema
	// Registry and Control Center. Generated for every install, so a later --listen needs
	// nothing new.
	KeyKafkaUser              = "DATAECO_KAFKA_USER"
	KeyKafkaPassword          = "DATAECO_KAFKA_PASSWORD"
	KeySparkSecret            = "DATAECO_SPARK_SECRET"
	KeySchemaRegistryUser     = "DATAECO_SCHEMA_REGISTRY_USER"
	KeySchemaRegistryPassword = "DATAECO_SCHEMA_REGISTRY_PASSWORD"
	KeyControlCenterUser      = "DATAECO_CONTROL_CENTER_USER"
	KeyControlCenterPassword  = "DATAECO_CONTROL_CENTER_PASSWORD"
)

// isUserKey says whether a key holds a user name or another value that is no secret: those
// are never redacted ("admin" would be blanked out of every report).
func isUserKey(k string) bool {
	switch k {
	case KeyProjectName, KeyAirflowAdminUser, KeyCassandraUser, KeyKafkaUser, KeySchemaRegistryUser, KeyControlCenterUser, KeyNoProxy:
		return true
	}
	return false
}

// Secrets holds the credentials generated for one install, keyed as in the .env file.
type Secrets map[string]string

// secretGenerators lists the generated values with how each is made. Existing values are never
// regenerated: PostgreSQL and Cassandra keep the first password in their volumes.
func secretGenerators() map[string]func() (string, error) {
	fixed := func(v string) func() (string, error) { return func() (string, error) { return v, nil } }
	pw := func() (string, error) { return randomPassword(24) }
	return map[string]func() (string, error){
		KeyPostgresPassword: pw,
		KeyAirflowAdminUser: fixed("admin"),
		KeyAirflowAdminPass: pw,
		KeyAirflowFernet:    fernetKey,
		KeyAirflowSecret:    pw,
		// HS512 wants a key of at least 64 bytes; PyJWT warns about shorter ones.
		KeyAirflowJWT:             func() (string, error) { return randomPassword(jwtSecretLength) },
		KeyCassandraUser:          fixed("dataeco_admin"),
		KeyCassandraPassword:      pw,
		KeyCassandraLockoutPwd:    pw,
		KeyKafkaUser:              fixed("dataeco"),
		KeyKafkaPassword:          pw,
		KeySparkSecret:            func() (string, error) { return randomPassword(32) },
		KeySchemaRegistryUser:     fixed("dataeco"),
		KeySchemaRegistryPassword: pw,
		KeyControlCenterUser:      fixed("admin"),
		KeyControlCenterPassword:  pw,
	}
}

// jwtSecretLength is the length of Airflow's JWT signing key. Installs made before it was
// this long get a new one at their next install; nothing else is regenerated.
const jwtSecretLength = 64

const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomPassword draws from an alphabet with no quotes or shell metacharacters: the values go
// into SQLAlchemy URLs and CQL strings, where those would need escaping.
func randomPassword(n int) (string, error) {
	var sb strings.Builder
	limit := big.NewInt(int64(len(passwordAlphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("generating a password: %w", err)
		}
		sb.WriteByte(passwordAlphabet[i.Int64()])
	}
	return sb.String(), nil
}

// fernetKey is 32 random bytes in URL-safe base64, the form Airflow's Fernet expects.
func fernetKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the Fernet key: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// EnsureSecrets fills in whatever is missing and reports whether anything was generated.
func (s Secrets) EnsureSecrets(project string) (bool, error) {
	changed := false
	for k, gen := range secretGenerators() {
		if s[k] != "" && !(k == KeyAirflowJWT && len(s[k]) < jwtSecretLength) {
			continue
		}
		v, err := gen()
		if err != nil {
			return false, err
		}
		s[k] = v
		changed = true
	}
	if s[KeyProjectName] != project {
		s[KeyProjectName] = project
		changed = true
	}
	return changed, nil
}

// Values returns the secret values (not user names), for redaction.
func (s Secrets) Values() []string {
	var out []string
	for k, v := range s {
		if isUserKey(k) || v == "" {
			continue
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Redact replaces every secret value in b.
func (s Secrets) Redact(b []byte) []byte {
	for _, v := range s.Values() {
		b = bytes.ReplaceAll(b, []byte(v), []byte("[redacted]"))
	}
	return b
}

// Marshal renders the .env file.
func (s Secrets) Marshal() []byte {
	var buf bytes.Buffer
	buf.WriteString("# dataeco credentials for this install. Keep this file private (mode 0600).\n")
	buf.WriteString("# docker-compose reads it from this directory; `dataeco credentials` prints it.\n")
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&buf, "%s=%s\n", k, s[k])
	}
	return buf.Bytes()
}

// ParseSecrets reads KEY=VALUE lines, skipping comments and blanks.
func ParseSecrets(b []byte) (Secrets, error) {
	s := Secrets{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d is not KEY=VALUE", line)
		}
		s[k] = v
	}
	return s, sc.Err()
}

// LoadSecrets reads the .env file and refuses one that others can read: it would mean the
// credentials have already leaked, and silently fixing it would hide that.
func LoadSecrets(dir string) (Secrets, error) {
	path := filepath.Join(dir, EnvFile)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Secrets{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, hint.New(fmt.Sprintf("run `chmod 600 %s` and consider the passwords in it exposed", path),
			fmt.Errorf("%s is readable by other users (mode %04o)", path, st.Mode().Perm()))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	s, err := ParseSecrets(b)
	if err != nil {
		return nil, hint.New("restore the file from a backup; its passwords are the ones stored in your data volumes",
			fmt.Errorf("%s is damaged: %w", path, err))
	}
	return s, nil
}

// ReadSecretsLoosely reads the credentials whatever the file's mode, only so that a report
// can redact them; anything unreadable gives an empty set.
func ReadSecretsLoosely(dir string) Secrets {
	b, err := os.ReadFile(filepath.Join(dir, EnvFile))
	if err != nil {
		return Secrets{}
	}
	s, err := ParseSecrets(b)
	if err != nil {
		return Secrets{}
	}
	return s
}

// Clone copies the secrets, so a caller can fill in placeholders without touching the original.
func (s Secrets) Clone() Secrets {
	out := make(Secrets, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// SparkAuthOpts are the JVM options that turn on Spark's authentication with the install's
// secret: the stack's daemons and its streaming job get them from the compose file, a user's
// spark-submit from `dataeco env` (as SPARK_SUBMIT_OPTS).
func SparkAuthOpts(s Secrets) string {
	return "-Dspark.authenticate=true -Dspark.authenticate.secret=" + s[KeySparkSecret]
}
