package engine

import "github.com/docker/compose/v5/pkg/api"

// composeVersion is the version of the Compose library in go.mod (a test keeps them in step).
const composeVersion = "5.6.0"

// The Compose library labels every container, network and volume with its own version, which
// its CLI stamps in at link time; linked into dataeco it stays empty. docker-compose 1.29
// parses that label on every container of a project and crashes on an empty one ("'ComposeVersion'
// object has no attribute 'version'"), so `docker-compose ps` in the install dir would fail.
// Test binaries carry no module versions in their build information, hence the constant.
func init() {
	if api.ComposeVersion == "" {
		api.ComposeVersion = composeVersion
	}
}
