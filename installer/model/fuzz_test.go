package model

import (
	"strings"
	"testing"
)

// Fuzz targets for every parser of user input. `go test` runs their seeds; CI also fuzzes
// each briefly (see .ci/test).

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512m", "2g", "2gb", "-1", "0", "0m", "1.5g", "+2g", " 1g ", "99999999999999g", "g", "", "１g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("ParseSize(%q) = %d without error", s, n)
		}
		// What we render must parse back to the same size.
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("round trip of %q: %v → %q → %v, %v", s, n, n.String(), back, err)
		}
	})
}

func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"9092", "0", "70000", "-1", "http", " 80 ", "65535", "65536", "0x50"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParsePort(s)
		if err == nil && (n < 1 || n > 65535) {
			t.Fatalf("ParsePort(%q) = %d", s, n)
		}
	})
}

func FuzzParseRegistry(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5000", "mirror.corp/dockerhub", "https://x", "host:99999", "a b", "", "-bad", "x/../y", "h:1/p/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRegistry(s)
		if err != nil || r == "" {
			return
		}
		// An accepted registry must produce image references without spaces, schemes or
		// empty path parts, since they go to the engine as they are.
		ref := RewriteImage(r, "cassandra:5.0.9")
		if strings.ContainsAny(ref, " \t\n\\") || strings.Contains(ref, "://") || strings.Contains(ref, "//") {
			t.Fatalf("ParseRegistry(%q) = %q gives image %q", s, r, ref)
		}
	})
}

func FuzzParseAnswers(f *testing.F) {
	good, _ := testAnswers(nil).Marshal()
	f.Add(string(good))
	f.Add("version: 1\nkafka_heap: 2gb\n")
	f.Add("version: 1\nports: {kafka: 70000}\n")
	f.Add("version: 1\ncomponents: [flink]\n")
	f.Add("version: 2\n")
	f.Add("{{{")
	f.Add("version: 1\nlisten: 'a b'\n")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAnswers([]byte(s))
		if err != nil {
			return
		}
		// Whatever the parser accepts must render, and validate.
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted answers fail validation: %v", err)
		}
		if _, err := Render(a, "fuzz", "", Inputs{}); err != nil {
			t.Fatalf("accepted answers do not render: %v", err)
		}
	})
}
