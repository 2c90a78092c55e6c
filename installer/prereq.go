package installer

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/checks"
)

// minimumMemory is the least each service starts with, in MiB, keyed like MemoryLimits.
// Below it the JVMs or Python processes fail to start or thrash; the limits above it are
// what install gives them. One-shot jobs are left out: they finish before the rest peaks.
func minimumMemory(a *Answers) map[string]Size {
	return map[string]Size{
		"zookeeper":             256,
		"broker":                a.KafkaHeap + 256,
		"schema_registry":       384,
		"control_center":        1024,
		"postgres":              128,
		"airflow_apiserver":     768,
		"airflow_scheduler":     768,
		"airflow_dag_processor": 384,
		"spark_master":          512,
		"spark_worker":          a.SparkWorkerMemory + 256,
		"cassandra":             a.CassandraHeap + 512,
	}
}

// resourceKey maps a service to its row in the resource tables.
func resourceKey(service string) string {
	if strings.HasPrefix(service, "spark-worker-") {
		return "spark_worker"
	}
	return strings.ReplaceAll(service, "-", "_")
}

// Plan describes, for the checks, what the rendered project would run.
func Plan(a *Answers, p *types.Project) checks.Plan {
	limits, mins := MemoryLimits(a), minimumMemory(a)
	plan := checks.Plan{Project: p.Name, SparkCores: a.SparkWorkerCores, Workers: a.SparkWorkers, Lighter: map[string]int64{}}
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		key := resourceKey(name)
		need := checks.ServiceNeed{Service: name, Component: svc.Labels["io.dataeco.component"], Image: svc.Image}
		if svc.Restart != "no" {
			need.MinMiB, need.LimitMiB = int64(mins[key]), int64(limits[key])
		}
		plan.Services = append(plan.Services, need)
		if c := need.Component; c != CompKafka && c != "" {
			plan.Lighter[c] += need.LimitMiB
		}
		for _, port := range svc.Ports {
			flag := ""
			for _, spec := range PortSpecs() {
				if fmt.Sprint(a.Ports[spec.Key]) == port.Published {
					flag = spec.Flag
				}
			}
			var n int
			fmt.Sscan(port.Published, &n)
			plan.Ports = append(plan.Ports, checks.PortNeed{Service: name, HostIP: port.HostIP, Port: n, Flag: flag})
		}
	}
	// Only offer to drop what the pipeline can live without.
	for _, c := range []string{CompSpark, CompCassandra} {
		delete(plan.Lighter, c)
	}
	sort.Slice(plan.Ports, func(i, j int) bool { return plan.Ports[i].Port < plan.Ports[j].Port })
	return plan
}

// imageSizes are rough download-plus-extract sizes, for the disk check. The Confluent images
// share most of their layers, hence the smaller figures after the first.
func imageSizes() map[string]int64 {
	return map[string]int64{
		"confluentinc/cp-server":                    2 << 30,
		"confluentinc/cp-zookeeper":                 300 << 20,
		"confluentinc/cp-schema-registry":           400 << 20,
		"confluentinc/cp-enterprise-control-center": 1 << 30,
		"apache/airflow":                            2 << 30,
		"postgres":                                  450 << 20,
		"apache/spark":                              1200 << 20,
		"cassandra":                                 400 << 20,
	}
}

// checkEnv gathers what the checks read, with the real machine behind every function.
func (a *App) checkEnv(docker *Docker, down *checks.Result) *checks.Env {
	env := &checks.Env{
		GOOS:     runtime.GOOS,
		Getenv:   a.Getenv,
		LookPath: exec.LookPath,
		Exec: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, name, args...).Output()
		},
		EngineDown:     down,
		Listen:         net.Listen,
		PortOwner:      checks.PortOwner,
		EphemeralPorts: checks.EphemeralPorts,
		FreeBytes:      checks.FreeBytes,
		ImageSizes:     imageSizes(),
	}
	if docker != nil {
		env.Engine = docker.Engine()
	}
	return env
}

// runPrerequisites runs the checks install and start need before changing anything, prints
// them, and fails on any failure that was not skipped.
func (a *App) runPrerequisites(ctx context.Context, docker *Docker, ans *Answers, p *types.Project, skip []string) error {
	skipSet := map[string]bool{}
	for _, id := range skip {
		skipSet[id] = true
		fmt.Fprintf(a.Streams.ErrOut, "WARNING: skipping the %s check (--skip-check); dataeco may fail later in ways it would have caught now\n", id)
	}
	env := a.checkEnv(docker, nil)
	env.Plan = Plan(ans, p)
	results := checks.Run(ctx, env, checks.Prerequisites(), skipSet)
	var failed []string
	for _, r := range results {
		if r.Status == checks.Fail {
			failed = append(failed, r.ID)
		}
	}
	writeResults(a.Streams.ErrOut, results, a.Streams.ErrTTY, a.Streams.Color, false)
	if len(failed) > 0 {
		return &Error{Code: ExitFailure,
			Err:  fmt.Errorf("prerequisite checks failed: %s; nothing was changed", strings.Join(failed, ", ")),
			Hint: fmt.Sprintf("apply the fixes above, or override one check with --skip-check %s", failed[0])}
	}
	return nil
}

// writeResults prints check results as [✓] [!] [✗] lines with the fix under each finding.
// verbose adds container diagnoses (doctor).
func writeResults(w io.Writer, results []checks.Result, tty, color, verbose bool) {
	for _, r := range results {
		fmt.Fprintf(w, "%s %s: %s\n", resultMark(r.Status, tty, color), r.Title, r.Message)
		if r.Fix != "" && r.Status != checks.Pass {
			fmt.Fprintf(w, "      fix: %s  (%s)\n", r.Fix, checks.DocURL(r.ID))
		}
		if !verbose {
			continue
		}
		for _, d := range r.Diagnoses {
			fmt.Fprintf(w, "      %s (%s): state %s, health %s, exit code %d, restarts %d, OOM-killed %v\n",
				d.Service, d.Container, d.State, dash(d.Health), d.ExitCode, d.RestartCount, d.OOMKilled)
			if d.HealthOutput != "" {
				fmt.Fprintf(w, "        last healthcheck: %s\n", oneLine(d.HealthOutput))
			}
			if len(d.LogTail) > 0 {
				fmt.Fprintf(w, "        last log lines:\n")
				for _, l := range d.LogTail {
					fmt.Fprintf(w, "          %s\n", l)
				}
			}
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func resultMark(s checks.Status, tty, color bool) string {
	mark, code := "[✓]", "32"
	switch s {
	case checks.Warn:
		mark, code = "[!]", "33"
	case checks.Fail:
		mark, code = "[✗]", "31"
	case checks.Skip:
		mark, code = "[-]", "90"
	}
	if !tty {
		mark = map[checks.Status]string{checks.Pass: "[ok]", checks.Warn: "[!]", checks.Fail: "[x]", checks.Skip: "[-]"}[s]
	}
	if color {
		return "\x1b[" + code + "m" + mark + "\x1b[0m"
	}
	return mark
}
