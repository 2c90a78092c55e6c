package e2e

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

	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
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
	var refs []installer.ImageRef
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
	if r.code != installer.ExitFailure || !strings.Contains(r.stderr, "loading "+junk) {
		t.Errorf("images load of a junk file: exit %d\n%s", r.code, r.stderr)
	}
	// Usage errors: no file; flags after the file (which urfave/cli would take as arguments).
	if r = runCLI(t, ctx, "images", "save"); r.code != installer.ExitUsage || !strings.Contains(r.stderr, "dataeco images save dataeco-images.tar.gz") {
		t.Errorf("images save without FILE: exit %d\n%s", r.code, r.stderr)
	}
	if r = runCLI(t, ctx, "images", "save", "x.tar", "--components", "kafka"); r.code != installer.ExitUsage ||
		!strings.Contains(r.stderr, "flags go before FILE") || !strings.Contains(r.stderr, "dataeco images save --components kafka x.tar") {
		t.Errorf("images save FILE --flag: exit %d\n%s", r.code, r.stderr)
	}
}

// TestIntegrationImageOverride: --image runs another tag of a pinned image (the stand-in
// re-tagged, a Docker Hub name moved under --registry like the pinned ones): `images` marks
// it, install says so once, pulls and runs it in the broker and kafka-init, status names it,
// a re-install keeps it without a word, and NAME= goes back to the pinned image.
func TestIntegrationImageOverride(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-override"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pinned := imageOf(t, "broker")
	repo, _, _ := strings.Cut(pinned, ":")
	other := repo + ":7.9.10-e2e" // no such tag upstream: only the test registry has it
	base, target := registry+"/"+pinned, registry+"/"+other
	pushAs(t, registry, pinned, other)
	dir := filepath.Join(t.TempDir(), "install")
	sel := []string{"--dir", dir, "--registry", registry, "--components", "kafka"}

	r := runCLI(t, ctx, append([]string{"images", "--json", "--image", "kafka=" + other}, sel...)...)
	mustSucceed(t, r, "images --image")
	var refs []installer.ImageRef
	if err := json.Unmarshal([]byte(r.stdout), &refs); err != nil {
		t.Fatalf("images --json: %v\n%s", err, r.stdout)
	}
	if len(refs) != 2 || refs[0].Image != target || refs[0].Replaces != base || refs[0].Override != "kafka" {
		t.Fatalf("images with the override: %+v", refs)
	}

	install := func(extra ...string) runResult {
		args := append(append([]string{"install", "--yes", "--no-smoke", "--project", project, "--timeout", "3m"}, sel...), fixedPortArgs(18100)...)
		r := runCLI(t, ctx, append(args, extra...)...)
		mustSucceed(t, r, "install "+strings.Join(extra, " "))
		return r
	}
	runs := func(service string) string {
		t.Helper()
		out, err := exec.Command("docker", "inspect", "-f", "{{.Config.Image}}", project+"-"+service+"-1").CombinedOutput()
		if err != nil {
			t.Fatalf("inspect %s: %v\n%s", service, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	r = install("--image", "kafka="+other)
	if !strings.Contains(r.stderr, "Note: kafka runs "+target+" in place of the pinned "+base) || !strings.Contains(r.stderr, "pulled "+target) {
		t.Errorf("install with --image did not say it leaves the tested set, or did not pull the override:\n%s", r.stderr)
	}
	for _, s := range []string{"broker", "kafka-init"} {
		if got := runs(s); got != target {
			t.Errorf("%s runs %s, want %s", s, got, target)
		}
	}
	if got := runs("zookeeper"); got != registry+"/"+imageOf(t, "zookeeper") {
		t.Errorf("zookeeper runs %s: an override of kafka changed it", got)
	}
	r = runCLI(t, ctx, "status", "--json", "--dir", dir)
	mustSucceed(t, r, "status --json")
	var st struct {
		Overrides []struct{ Name, Image, Pinned string } `json:"image_overrides"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Overrides) != 1 || st.Overrides[0].Image != target {
		t.Errorf("status --json overrides: %+v %v\n%s", st, err, r.stdout)
	}
	if r = runCLI(t, ctx, "status", "--dir", dir); !strings.Contains(r.stderr, "kafka runs "+target+" (--image)") {
		t.Errorf("status does not name the override:\n%s", r.stderr)
	}

	// A re-install keeps the override, quietly; NAME= goes back to the pinned image.
	if r = install(); strings.Contains(r.stderr, "Note: kafka runs") || runs("broker") != target {
		t.Errorf("a re-install without --image: broker runs %s\n%s", runs("broker"), r.stderr)
	}
	install("--image", "kafka=")
	if got := runs("broker"); got != base {
		t.Errorf("after --image kafka=, broker runs %s, want the pinned %s", got, base)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "answers.yaml")); err != nil || strings.Contains(string(b), "images:") {
		t.Errorf("answers.yaml still has an override: %v\n%s", err, b)
	}
}

// TestIntegrationImageMajorMove: moving Cassandra to another major version over its data is
// refused before anything is pulled, written or recreated, and says what to do; a patch of
// the same major goes ahead, named with the image it leaves and the one it takes.
func TestIntegrationImageMajorMove(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-majors"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pinned := imageOf(t, "cassandra")
	repo, _, _ := strings.Cut(pinned, ":")
	older, patch := repo+":4.1.9-e2e", repo+":5.0.10-e2e" // only the test registry has them
	base := model.RewriteImage(registry, pinned)
	pushAs(t, registry, pinned, older)
	pushAs(t, registry, pinned, patch)
	dir := filepath.Join(t.TempDir(), "install")
	install := func(extra ...string) runResult {
		args := append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
			"--components", "cassandra", "--timeout", "3m"}, fixedPortArgs(18300)...)
		return runCLI(t, ctx, append(args, extra...)...)
	}
	mustSucceed(t, install(), "install")
	answers, err := os.ReadFile(filepath.Join(dir, model.AnswersFile))
	if err != nil {
		t.Fatal(err)
	}

	before := projectContainers(t, c, project)
	r := install("--image", "cassandra="+older)
	olderRef := model.RewriteImage(registry, older)
	if r.code == 0 || !strings.Contains(r.stderr, "cassandra: "+base+" -> "+olderRef+"  REFUSED: major 5 to 4") ||
		!strings.Contains(r.stderr, "dataeco reset cassandra") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Errorf("a move of Cassandra to an older major: exit %d\n%s", r.code, r.stderr)
	}
	assertSameContainers(t, before, projectContainers(t, c, project))
	if now, err := os.ReadFile(filepath.Join(dir, model.AnswersFile)); err != nil || string(now) != string(answers) {
		t.Errorf("the refused move changed the answers: %v\n%s", err, now)
	}
	if out, err := exec.Command("docker", "image", "inspect", olderRef).CombinedOutput(); err == nil {
		t.Errorf("the refused move pulled %s:\n%s", olderRef, out)
	}

	r = install("--image", "cassandra="+patch)
	mustSucceed(t, r, "install with a Cassandra patch")
	patchRef := model.RewriteImage(registry, patch)
	if !strings.Contains(r.stderr, "cassandra: "+base+" -> "+patchRef+"\n") {
		t.Errorf("the patch move is not named:\n%s", r.stderr)
	}
	if out, err := exec.Command("docker", "inspect", "-f", "{{.Config.Image}}", project+"-cassandra-1").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != patchRef {
		t.Errorf("cassandra runs %s, want %s (%v)", out, patchRef, err)
	}
}

// pushAs publishes the stand-in of the pinned image under another reference in the test
// registry only, and leaves no local copy of it: an install must pull it.
func pushAs(t *testing.T, registry, pinned, ref string) {
	t.Helper()
	base, target := model.RewriteImage(registry, pinned), model.RewriteImage(registry, ref)
	for _, args := range [][]string{{"pull", "-q", base}, {"tag", base, target}, {"push", target}, {"image", "rm", "-f", target}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
