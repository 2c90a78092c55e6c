package engine

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dataeco/dataeco/installer/hint"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// BuildSpec is an image dataeco builds from a pinned one.
type BuildSpec struct {
	Tag   string
	Base  string // the image it starts FROM, pulled with the stack's other images
	Files map[string][]byte
}

// BuildError says which image could not be built, why, and what the build printed last.
type BuildError struct {
	Image  string
	Reason string   // the tool's own words: pip's ERROR lines, Ivy's unresolved dependencies
	Tail   []string // the last lines of the build's output
	// Untrusted: a fetch failed because a server's certificate was signed by a CA the image
	// does not trust, as behind a TLS-inspecting proxy.
	Untrusted bool
}

// untrustedRE matches how pip (Python's ssl), the JVM (Ivy) and Go say that a certificate's
// authority is not trusted.
var untrustedRE = regexp.MustCompile(`CERTIFICATE_VERIFY_FAILED|PKIX path building failed|x509: certificate signed by unknown authority`)

func (e *BuildError) Error() string { return fmt.Sprintf("building %s: %s", e.Image, e.Reason) }

// AsBuildError finds a BuildError in err's chain.
func AsBuildError(err error) (*BuildError, bool) {
	var b *BuildError
	ok := errors.As(err, &b)
	return b, ok
}

// Build builds the images of specs that the engine does not have yet, through the engine's
// API with its classic builder: no buildx, no BuildKit, so Engine 20.10 and Docker Desktop
// alike. Bases must be present (Pull brings them). An image already built is never built
// again: its tag names the digest of everything that went into it.
func (s *Stack) Build(ctx context.Context) error {
	for _, spec := range s.Builds {
		if s.upToDate(ctx, spec) {
			continue
		}
		if err := s.build(ctx, spec); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if lost := s.engineLost(ctx, "building images", err); lost != nil {
				return lost
			}
			return err
		}
	}
	return nil
}

// upToDate says whether the built image is there and was built from the base image as it is
// now: a base pulled again under the same tag (a new patch of it, say) is built on again. A
// built image whose base is not there (loaded from a bundle) is kept.
func (s *Stack) upToDate(ctx context.Context, spec BuildSpec) bool {
	built, err := s.Docker.API.ImageInspect(ctx, spec.Tag)
	if err != nil {
		return false
	}
	base, err := s.Docker.API.ImageInspect(ctx, spec.Base)
	if err != nil || built.Config == nil {
		return true
	}
	return built.Config.Labels[builtFromIDLabel] == base.ID
}

// builtFromIDLabel holds, on an image dataeco built, the ID of the base it was built from.
const builtFromIDLabel = "io.dataeco.built-from-id"

func (s *Stack) build(ctx context.Context, spec BuildSpec) error {
	buildContext, err := tarOf(spec.Files)
	if err != nil {
		return err
	}
	start := time.Now()
	s.ui.BuildStarted(spec.Tag, spec.Base)
	labels := map[string]string{"io.dataeco.built-from": spec.Base}
	if base, err := s.Docker.API.ImageInspect(ctx, spec.Base); err == nil {
		labels[builtFromIDLabel] = base.ID
	}
	args := map[string]*string{}
	for k, v := range s.BuildArgs {
		args[k] = &v
	}
	res, err := s.Docker.API.ImageBuild(ctx, buildContext, client.ImageBuildOptions{
		Tags: []string{spec.Tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1, Labels: labels, BuildArgs: args,
	})
	if err != nil {
		s.ui.BuildDone(spec.Tag, time.Since(start), false)
		return hint.Wrap(fmt.Errorf("building %s: %w", spec.Tag, err), "run `dataeco doctor`")
	}
	defer res.Body.Close()
	out, buildErr := readBuild(res.Body, func(line string) { s.ui.BuildOutput(spec.Tag, line) })
	out = redactProxies(out, s.BuildArgs)
	s.ui.BuildDone(spec.Tag, time.Since(start), buildErr == nil)
	if buildErr != nil {
		return &BuildError{Image: spec.Tag, Reason: buildReason(buildErr, out), Tail: lastLines(out, 15),
			Untrusted: slices.ContainsFunc(out, untrustedRE.MatchString)}
	}
	return nil
}

// tarOf is a build context holding files.
func tarOf(files map[string][]byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

// readBuild follows the engine's messages of a build: the output lines, and the error that
// ends a failed one.
func readBuild(r io.Reader, each func(string)) ([]string, error) {
	var out []string
	err := engineLines(r, func(line string) {
		out = append(out, line)
		each(line)
	})
	return out, err
}

// engineLines reads the JSON messages the engine streams for a build or an image load, and
// gives each line of output, trimmed, to each; an error message ends the stream as an error.
func engineLines(r io.Reader, each func(string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			continue
		}
		if msg.Error != "" {
			return errors.New(strings.TrimSpace(msg.Error))
		}
		for _, line := range strings.Split(msg.Stream, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				each(line)
			}
		}
	}
	return sc.Err()
}

var unresolvedRE = regexp.MustCompile(`unresolved dependency: (\S+(?:;\S+)?)(?::\s*(.*))?`)

// buildReason picks out of a failed build's output what the failing tool said: pip's ERROR
// lines (which name the package and why), Ivy's unresolved dependencies, or else the
// engine's own message.
func buildReason(err error, out []string) string {
	var reasons []string
	for _, line := range out {
		t := strings.TrimSpace(line)
		if m := unresolvedRE.FindStringSubmatch(t); m != nil {
			r := "Maven package " + strings.ReplaceAll(strings.Split(m[1], ";")[0], "#", ":") + " not found"
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		if msg, ok := strings.CutPrefix(t, "ERROR: "); ok && !slices.Contains(reasons, msg) {
			reasons = append(reasons, msg)
		}
	}
	if len(reasons) == 0 {
		return err.Error()
	}
	return strings.Join(reasons, "; ")
}

// redactProxies hides proxy URLs (which may carry a password) in what a build printed.
func redactProxies(lines []string, args map[string]string) []string {
	for k, v := range args {
		if strings.Contains(strings.ToLower(k), "proxy") && strings.Contains(v, "@") {
			for i := range lines {
				lines[i] = strings.ReplaceAll(lines[i], v, "[proxy]")
			}
		}
	}
	return lines
}

func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
