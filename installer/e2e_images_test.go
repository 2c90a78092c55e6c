package installer

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIntegrationImagesOffline: the images saved on a machine that can pull are loaded into an
// engine that lacks them, and install then starts the stack without pulling anything.
func TestIntegrationImagesOffline(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-offline"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	nowhere := filepath.Join(t.TempDir(), "no-install")
	sel := []string{"--dir", nowhere, "--components", "kafka", "--registry", registry}

	r := runCLI(t, ctx, append([]string{"images", "--json"}, sel...)...)
	mustSucceed(t, r, "images --json")
	var refs []ImageRef
	if err := json.Unmarshal([]byte(r.stdout), &refs); err != nil {
		t.Fatalf("images --json: %v\n%s", err, r.stdout)
	}
	var want []string
	for _, ref := range refs {
		want = append(want, ref.Image)
	}
	if len(want) != 2 || !strings.HasPrefix(want[0], registry+"/confluentinc/cp-server:") || !strings.HasPrefix(want[1], registry+"/confluentinc/cp-zookeeper:") {
		t.Fatalf("images for kafka: %v", want)
	}
	removeImages := func() {
		for _, img := range want {
			_ = exec.Command("docker", "image", "rm", "-f", img).Run()
		}
	}
	removeImages()

	// Saving pulls what is missing first, then writes one compressed file.
	bundle := filepath.Join(t.TempDir(), "images.tar.gz")
	r = runCLI(t, ctx, append(append([]string{"images", "save"}, sel...), bundle)...)
	mustSucceed(t, r, "images save")
	if !strings.Contains(r.stderr, "pulled "+registry+"/confluentinc/cp-zookeeper") {
		t.Errorf("images save did not pull the missing images:\n%s", r.stderr)
	}
	if fi, err := os.Stat(bundle); err != nil || fi.Size() < 1<<20 {
		t.Fatalf("bundle: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(bundle), ".images.tar.gz.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// On the "offline" engine: the images are gone until loaded.
	removeImages()
	r = runCLI(t, ctx, "images", "load", bundle)
	mustSucceed(t, r, "images load")
	loaded := strings.Fields(r.stdout)
	slices.Sort(loaded)
	if !slices.Equal(loaded, want) {
		t.Errorf("images load printed %v, want %v", loaded, want)
	}

	dir := filepath.Join(t.TempDir(), "install")
	r = runCLI(t, ctx, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project,
		"--registry", registry, "--components", "kafka", "--timeout", "2m"}, fixedPortArgs(18000)...)...)
	mustSucceed(t, r, "install after images load")
	if strings.Contains(r.stderr, "pulled ") || !strings.Contains(r.stderr, "every image is already present") {
		t.Errorf("install pulled although every image was loaded:\n%s", r.stderr)
	}

	// A file that is not an image archive is refused with the reason.
	junk := filepath.Join(t.TempDir(), "junk.tar")
	if err := os.WriteFile(junk, []byte("not a tar file"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, ctx, "images", "load", junk)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "loading "+junk) {
		t.Errorf("images load of a junk file: exit %d\n%s", r.code, r.stderr)
	}
	// Usage errors: no file; flags after the file (which urfave/cli would take as arguments).
	if r = runCLI(t, ctx, "images", "save"); r.code != ExitUsage || !strings.Contains(r.stderr, "dataeco images save dataeco-images.tar.gz") {
		t.Errorf("images save without FILE: exit %d\n%s", r.code, r.stderr)
	}
	if r = runCLI(t, ctx, "images", "save", "x.tar", "--components", "kafka"); r.code != ExitUsage ||
		!strings.Contains(r.stderr, "flags go before FILE") || !strings.Contains(r.stderr, "dataeco images save --components kafka x.tar") {
		t.Errorf("images save FILE --flag: exit %d\n%s", r.code, r.stderr)
	}
}
