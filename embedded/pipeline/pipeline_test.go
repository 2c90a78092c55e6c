package pipeline

import (
	"io/fs"
	"strings"
	"testing"
)

// The installer renders exactly these paths; a file renamed here must be renamed there too.
func TestFilesHoldsTheInstalledAssets(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"dags/user_automation.py":  `dag_id="user_automation"`,
		"dags/dataeco_users.py":    "def produce(",
		"spark/stream_users.py":    "org.apache.spark.sql.cassandra",
		"cql/schema.cql":           "CREATE TABLE IF NOT EXISTS spark_streams.created_users",
		"requirements-airflow.txt": "confluent-kafka==",
	}
	for name, marker := range want {
		data, err := fs.ReadFile(Files, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.Contains(string(data), marker) {
			t.Errorf("%s does not contain %q", name, marker)
		}
	}
}
