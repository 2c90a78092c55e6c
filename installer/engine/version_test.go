package engine

import (
	"os"
	"regexp"
	"testing"

	"github.com/docker/compose/v5/pkg/api"
)

// The label docker-compose 1.29 reads must be a version it can compare: the module's own, as
// go.mod requires it.
func TestComposeVersionLabel(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/docker/compose/v5 v(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod requires no github.com/docker/compose/v5")
	}
	if string(m[1]) != composeVersion || api.ComposeVersion != composeVersion {
		t.Errorf("go.mod has Compose %s; composeVersion is %s and containers get com.docker.compose.version=%q",
			m[1], composeVersion, api.ComposeVersion)
	}
}
