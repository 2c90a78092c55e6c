package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer"
)

// TestIntegrationBackupRestore: a backup of an install holds its data and credentials:
// after uninstall --purge, restore brings back the same Kafka records, the same Cassandra
// roles (the stand-ins store both for real) and the same passwords; a second restore into
// another dir under another project name gives a second copy. An archive cut short or
// altered is refused with nothing changed, and the archive is private to the user.
func TestIntegrationBackupRestore(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project, other := "dataeco-backup", "dataeco-restored"
	freshProject(t, c, project)
	freshProject(t, c, other)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// Volumes no container holds: the helpers that read and write the volumes must take the
	// anonymous ones the engine makes for their image's VOLUME paths with them.
	dangling := func() []string {
		t.Helper()
		out, err := exec.Command("docker", "volume", "ls", "-q", "--filter", "dangling=true").CombinedOutput()
		if err != nil {
			t.Fatalf("docker volume ls: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	danglingBefore := dangling()
	defer func() {
		for _, v := range dangling() {
			if !slices.Contains(danglingBefore, v) {
				t.Errorf("backup and restore left volume %s, which no container holds", v)
			}
		}
	}()
	dir := filepath.Join(t.TempDir(), "install")
	const base = 17200
	mustSucceed(t, runCLI(t, ctx, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project,
		"--registry", registry, "--components", "kafka,cassandra", "--timeout", "3m"}, fixedPortArgs(base)...)...), "install")
	kafka := fmt.Sprintf("127.0.0.1:%d", base)
	produceRecords(t, kafka, "backed-up", "rec", 4, true)
	if out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "CREATE ROLE backedup WITH PASSWORD = 'x' AND LOGIN = true"`); err != nil {
		t.Fatalf("adding a role: %v\n%s", err, out)
	}
	creds := runCLI(t, ctx, "credentials", "--dir", dir)
	mustSucceed(t, creds, "credentials")

	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	r := runCLI(t, ctx, "backup", "--dir", dir, archive)
	mustSucceed(t, r, "backup")
	if !strings.Contains(r.stderr, "were down for") {
		t.Errorf("backup does not say how long the services were down:\n%s", r.stderr)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v, mode %v", err, fi.Mode())
	}
	mustSucceed(t, runCLI(t, ctx, "status", "--dir", dir), "status after backup")

	// Damaged archives are refused before anything changes.
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{"cut": data[:len(data)/2], "altered": flipByte(data, len(data)/3)} {
		path := filepath.Join(t.TempDir(), name+".tar.gz")
		writeFile(t, path, string(bad))
		r := runCLI(t, ctx, "restore", "--dir", filepath.Join(t.TempDir(), "nowhere"), path)
		if r.code != installer.ExitFailure || !strings.Contains(r.stderr, "not a complete dataeco backup") || !strings.Contains(r.stderr, "nothing was changed") {
			t.Errorf("%s archive: exit %d\n%s", name, r.code, r.stderr)
		}
	}
	if r := runCLI(t, ctx, "restore", "--dir", dir, archive); r.code != installer.ExitFailure || !strings.Contains(r.stderr, "--force") {
		t.Errorf("restore over an install without --force: exit %d\n%s", r.code, r.stderr)
	}
	// Into an empty dir under the project the running install uses: its volumes would go.
	before := projectContainers(t, c, project)
	if r := runCLI(t, ctx, "restore", "--dir", filepath.Join(t.TempDir(), "empty"), archive); r.code != installer.ExitUsage ||
		!strings.Contains(r.stderr, "project "+project+" belongs to the install in "+dir+" on this engine") || !strings.Contains(r.stderr, "--project") {
		t.Errorf("restore under a project in use: exit %d\n%s", r.code, r.stderr)
	}
	assertSameContainers(t, before, projectContainers(t, c, project))

	// Everything gone, then back from the archive.
	mustSucceed(t, runCLI(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir), "uninstall --purge")
	mustSucceed(t, runCLI(t, ctx, "restore", "--dir", dir, archive), "restore")
	if got := runCLI(t, ctx, "credentials", "--dir", dir); got.stdout != creds.stdout {
		t.Errorf("the credentials changed:\n%s\nnow\n%s", creds.stdout, got.stdout)
	}
	if got := consumeRecords(t, kafka, "backed-up", 4); len(got) != 4 {
		t.Errorf("records after restore: %v", got)
	}
	if out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "LIST ROLES"`); err != nil || !strings.Contains(out, "backedup") {
		t.Errorf("the role is not back: %v\n%s", err, out)
	}
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), []string{"zookeeper", "broker", "kafka-init", "cassandra", "cassandra-init"})

	// A second copy under another project, in another dir (the first one stopped: same ports).
	mustSucceed(t, runCLI(t, ctx, "stop", "--dir", dir), "stop")
	second := filepath.Join(t.TempDir(), "second")
	mustSucceed(t, runCLI(t, ctx, "restore", "--dir", second, "--project", other, archive), "restore as another project")
	if got := consumeRecords(t, kafka, "backed-up", 4); len(got) != 4 {
		t.Errorf("records in the second copy: %v", got)
	}
	if out, err := execIn(t, other, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "LIST ROLES"`); err != nil || !strings.Contains(out, "backedup") {
		t.Errorf("the role is not in the second copy: %v\n%s", err, out)
	}
}

func flipByte(b []byte, i int) []byte {
	out := append([]byte{}, b...)
	out[i] ^= 0xff
	return out
}

// TestIntegrationBackupInterrupted: Ctrl-C in the middle of a backup leaves no archive and
// the stack running as before; in the middle of a restore's staging, the install as it was
// and no staged volume behind.
func TestIntegrationBackupInterrupted(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-backup-int"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	mustSucceed(t, runCLI(t, ctx, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project,
		"--registry", registry, "--components", "kafka", "--timeout", "3m"}, fixedPortArgs(17100)...)...), "install")
	// A volume big enough that copying it takes a while.
	if out, err := execIn(t, project, "broker", "head -c 600000000 /dev/zero > /var/lib/kafka/data/ballast"); err != nil {
		t.Fatalf("ballast: %v\n%s", err, out)
	}
	healthy := []string{"zookeeper", "broker", "kafka-init"}

	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	cmd, lines, stderr := startDataeco(t, "backup", "--dir", dir, archive)
	waitForLine(t, lines, "for a consistent copy", 2*time.Minute)
	time.Sleep(300 * time.Millisecond)
	if code, _ := interruptAndWait(t, cmd); code != installer.ExitInterrupted || !strings.Contains(stderr.String(), "no backup was written") {
		t.Errorf("Ctrl-C during backup: exit %d\n%s", code, stderr.String())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(archive), "*")); len(left) > 0 {
		t.Errorf("files left after an interrupted backup: %v", left)
	}
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), healthy)

	// A whole backup, then a restore interrupted while it stages the volumes.
	mustSucceed(t, runCLI(t, ctx, "backup", "--dir", dir, archive), "backup")
	before := projectContainers(t, c, project)
	cmd, lines, stderr = startDataeco(t, "restore", "--force", "--dir", dir, archive)
	waitForLine(t, lines, "Staging the archive's volumes", 2*time.Minute)
	time.Sleep(300 * time.Millisecond)
	if code, _ := interruptAndWait(t, cmd); code != installer.ExitInterrupted || !strings.Contains(stderr.String(), "nothing of the install was changed") {
		t.Errorf("Ctrl-C during restore: exit %d\n%s", code, stderr.String())
	}
	assertSameContainers(t, before, projectContainers(t, c, project))
	vols, err := exec.Command("docker", "volume", "ls", "-q").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(vols), "-restore") {
		t.Errorf("staged volumes left behind:\n%s", vols)
	}
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), healthy)
}
