package model

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStartInterval: with the engine's start_interval usable, the cheap healthchecks carry
// one and the JVM-starting ones do not; the flag changes nothing else in the file; and the
// choice survives the round trip through the install dir, which every later command reads.
func TestStartInterval(t *testing.T) {
	t.Parallel()
	// Their checks start a JVM or Python and Airflow's database client: at one a second they
	// would take the CPU their own start needs.
	costly := []string{"broker", "cassandra", "airflow-dag-processor", "airflow-triggerer"}
	for name, a := range renderCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			off, err := Render(a, "test", "", Inputs{})
			if err != nil {
				t.Fatal(err)
			}
			on, err := Render(a, "test", "", Inputs{HealthStartInterval: true})
			if err != nil {
				t.Fatal(err)
			}
			var added []string
			for _, l := range strings.Split(string(on), "\n") {
				if strings.TrimSpace(l) == "start_interval: "+startInterval {
					added = append(added, l)
				}
			}
			if stripped := strings.ReplaceAll(string(on), "\n      start_interval: "+startInterval, ""); stripped != string(off) {
				t.Errorf("the flag changes more than start_interval lines")
			}
			p, err := LoadProject(context.Background(), "dataeco", t.TempDir(), on, testSecrets(), nil)
			if err != nil {
				t.Fatal(err)
			}
			with := 0
			for _, s := range p.Services {
				hc := s.HealthCheck
				if hc == nil {
					continue
				}
				got := hc.StartInterval != nil
				want := !slices.Contains(costly, s.Name)
				if got != want {
					t.Errorf("%s: start_interval set %v, want %v", s.Name, got, want)
				}
				if got {
					with++
					if time.Duration(*hc.StartInterval) != time.Second || hc.StartPeriod == nil {
						t.Errorf("%s: start_interval %v with start_period %v", s.Name, hc.StartInterval, hc.StartPeriod)
					}
				}
			}
			if with == 0 || with != len(added) {
				t.Errorf("%d services with start_interval, %d lines in the file", with, len(added))
			}
		})
	}

	dir := t.TempDir()
	in, err := ReadInputs(dir)
	if err != nil || in.HealthStartInterval {
		t.Fatalf("no %s: got %v, %v; want off", EngineFile, in.HealthStartInterval, err)
	}
	for _, want := range []bool{true, false} {
		if err := WriteEngineFacts(dir, Inputs{HealthStartInterval: want, SwarmJobs: !want}); err != nil {
			t.Fatal(err)
		}
		if in, err := ReadInputs(dir); err != nil || in.HealthStartInterval != want || in.SwarmJobs == want {
			t.Errorf("after writing %v (swarm jobs %v): read %v (%v), %v", want, !want, in.HealthStartInterval, in.SwarmJobs, err)
		}
	}
	if slices.Contains(BackupFiles(), EngineFile) {
		t.Errorf("%s is backed up; a restore on another engine must find out afresh", EngineFile)
	}
}

// TestStartIntervalRefusedByCompose129 is why the key is gated on the composes found on the
// machine: docker-compose 1.29, the seed's minimum, refuses a file that carries it.
func TestStartIntervalRefusedByCompose129(t *testing.T) {
	t.Parallel()
	bin := compose129(t)
	b, err := Render(testAnswers(nil), "test", "", Inputs{HealthStartInterval: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := composeConfig(t, bin, b)
	if err == nil || !strings.Contains(string(out), "start_interval") {
		t.Fatalf("docker-compose 1.29 took a file with start_interval (%v):\n%s\nthe gate in checks.HealthStartInterval may be loosened", err, out)
	}
}
