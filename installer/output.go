package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
)

// Every way dataeco prints a result or a status line lives in this file. Results go to
// stdout; progress, status and hints go to stderr.

// status writes a line of progress or status on stderr.
func (a *App) status(format string, args ...any) {
	fmt.Fprintf(a.Streams.ErrOut, format+"\n", args...)
}

// result writes a line of the command's result on stdout.
func (a *App) result(format string, args ...any) {
	fmt.Fprintf(a.Streams.Out, format+"\n", args...)
}

// printJSON writes v to stdout as indented JSON, the form of every --json result.
func (a *App) printJSON(v any) error {
	enc := json.NewEncoder(a.Streams.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// endpoint is one thing the user can connect to.
type endpoint struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Note string `json:"note,omitempty"`
	Env  string `json:"-"` // the variable `dataeco env` gives it in
	Open string `json:"-"` // the name `dataeco open` knows it by
}

// endpoints lists what the install publishes, from the catalogue's endpoints, at the host it
// advertises: localhost on the default loopback address, else the address or name other
// machines reach it by.
func endpoints(def *model.Definition) []endpoint {
	a, host := def.Answers, def.Advertised()
	var eps []endpoint
	for _, p := range model.PortsOf(a) {
		e := p.Endpoint
		if e == nil {
			continue
		}
		h, note := host, e.Note
		if ip := p.HostIP(a); ip != a.Listen {
			h, note = ip, "this machine only; --expose "+p.Name()+" publishes it"
		}
		if r := def.Inputs.RemoteHost; r != "" && (ip(h).IsLoopback() || h == "localhost") {
			// Published on the loopback of the engine's machine: reachable from here through SSH.
			note = fmt.Sprintf("on %s's loopback; from here: ssh -N -L %d:127.0.0.1:%d %s", r, a.Ports[p.Key], a.Ports[p.Key], r)
			if engine.IsSSH(def.Inputs.Endpoint) {
				note = fmt.Sprintf("on %s's loopback; from here through `dataeco tunnel`", r)
			}
		}
		url := fmt.Sprintf("%s:%d", h, a.Ports[p.Key])
		if e.Smoke == model.SmokeKafka && a.Brokers() > 1 {
			// Every broker, each on its node: a client starts from whichever answers.
			url = strings.Join(model.KafkaAddrs(a, def.Inputs, h), ",")
			note = strings.Replace(note, "broker:29092", "broker:29092,broker-2:29092,…", 1)
		}
		if e.Scheme != "" {
			url = e.Scheme + "://" + url
		}
		if p.Guarded(a) {
			note = strings.TrimPrefix(note+"; "+p.Guard, "; ")
		}
		eps = append(eps, endpoint{Name: e.Name, URL: url, Note: note, Env: e.Env, Open: e.Open})
	}
	return eps
}

func writeEndpoints(w io.Writer, eps []endpoint) {
	for _, e := range eps {
		line := fmt.Sprintf("  %-18s %s", e.Name, e.URL)
		if e.Note != "" {
			line = fmt.Sprintf("%-48s (%s)", line, e.Note)
		}
		fmt.Fprintln(w, line)
	}
}

// writeSummary is install's result: what runs, where to reach it, what to do next.
func (a *App) writeSummary(ctx context.Context, stack *engine.Stack, def *model.Definition, took time.Duration) error {
	cs, err := stack.Ps(ctx)
	if err != nil {
		return err
	}
	running := 0
	for _, c := range cs {
		if c.State == "running" {
			running++
		}
	}
	a.writeReady(running, "", def, took)
	return nil
}

// writeReady is the summary with the count of what runs: services, or a swarm's tasks (what
// then says so).
func (a *App) writeReady(running int, what string, def *model.Definition, took time.Duration) {
	w := a.Streams.Out
	if what == "" {
		what = "services running"
	}
	fmt.Fprintf(w, "\ndataeco is ready: %d %s, in %s\n\n", running, what, took.Round(time.Second))
	writeEndpoints(w, endpoints(def))
	fmt.Fprintf(w, "\nCredentials: run `dataeco credentials` (kept in %s, mode 0600)\n", filepath.Join(def.Dir, model.EnvFile))
	if def.Answers.Swarm {
		fmt.Fprintf(w, "Next: `dataeco status` (each service's tasks and their nodes), `dataeco smoke`, `dataeco down` (keeps data)\n")
	} else {
		fmt.Fprintf(w, "Next: `dataeco status`, `dataeco logs SERVICE`, `dataeco stop` (keeps data)\n")
	}
	if r := def.Inputs.RemoteHost; r != "" && def.Answers.Loopback() {
		how := "SSH (the commands above)"
		if engine.IsSSH(def.Inputs.Endpoint) {
			how = "an SSH tunnel: `dataeco tunnel` keeps one open until Ctrl-C"
		}
		fmt.Fprintf(w, "\nNote: the engine runs on %s and published the ports on its loopback, out of reach from this machine but through\n"+
			"%s. Or install with --listen 0.0.0.0: they then require the generated credentials.\n", r, how)
	}
	if !def.Answers.Loopback() {
		fmt.Fprintf(w, "\nNote: ports are published on %s and reachable from your network, as %s (--advertise changes the name).\n",
			def.Answers.Listen, def.Advertised())
		var guarded []string
		for _, p := range model.PortsOf(def.Answers) {
			if p.Guarded(def.Answers) {
				guarded = append(guarded, p.What)
			}
		}
		if len(guarded) > 0 {
			fmt.Fprintf(w, "Published with the generated credentials (`dataeco credentials`; `dataeco env --show-secrets` for your clients): %s.\n",
				strings.Join(guarded, ", "))
		}
		var open []string
		for _, p := range model.PortsOf(def.Answers) {
			if p.AuthOf(def.Answers) == "" && p.HostIP(def.Answers) == def.Answers.Listen {
				open = append(open, fmt.Sprintf("%s %d", p.What, def.Answers.Ports[p.Key]))
			}
		}
		if len(open) > 0 {
			fmt.Fprintf(w, "Anyone who reaches them can use, with no password (--allow-unauthenticated): %s.\n", strings.Join(open, ", "))
		}
	}
}

// writeFailure shows what is known about a failed service, on stderr, before the error.
func writeFailure(w io.Writer, f *engine.ServiceFailure) {
	d := f.Diagnosis
	fmt.Fprintf(w, "\n%s %s\n", f.Service, f.Reason)
	if d == nil {
		return
	}
	if why := d.Explain(); why != "" {
		fmt.Fprintf(w, "  why: %s\n", why)
	}
	fmt.Fprintf(w, "  container %s: state %s, exit code %d, restarts %d, OOM-killed %v\n", d.Container, d.State, d.ExitCode, d.RestartCount, d.OOMKilled)
	if d.HealthOutput != "" {
		fmt.Fprintf(w, "  last healthcheck: %s\n", d.HealthOutput)
	}
	if len(d.LogTail) > 0 {
		fmt.Fprintf(w, "  last %d log lines:\n", len(d.LogTail))
		for _, l := range d.LogTail {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	if d.Error != "" {
		fmt.Fprintf(w, "  (%s)\n", d.Error)
	}
	fmt.Fprintln(w)
}

// buildFailure shows the end of a failed build's output and says which file of the install
// dir to fix: the build ran before anything was started, so the stack is as it was.
func buildFailure(w io.Writer, b *engine.BuildError, retry string) error {
	fmt.Fprintf(w, "\nbuilding %s failed; its last lines:\n", b.Image)
	for _, l := range b.Tail {
		fmt.Fprintf(w, "    %s\n", l)
	}
	fmt.Fprintln(w)
	if b.Untrusted {
		return hint.New("a server's certificate is signed by an authority the build does not trust, as behind a TLS-inspecting proxy: "+
			"give that CA with `dataeco install --ca-cert FILE` (PEM); the running stack was not changed", b)
	}
	file := model.RequirementsFile
	if strings.HasPrefix(b.Image, "dataeco/spark:") {
		file = model.SparkPackagesFile
	}
	return hint.New(fmt.Sprintf("fix %s in the install dir (or the network, if a package index was unreachable), then run `dataeco %s`; "+
		"the running stack was not changed", file, retry), b)
}

// writeResults prints check results as [✓] [!] [✗] lines with the fix under each finding.
// verbose adds container diagnoses (doctor).
func writeResults(w io.Writer, results []checks.Result, tty, color, verbose bool) {
	for _, r := range results {
		fmt.Fprintf(w, "%s %s: %s\n", resultMark(r.Status, tty, color), r.Title, r.Message)
		if r.Fix != "" && r.Status != checks.Pass {
			fmt.Fprintf(w, "      fix: %s  (%s)\n", r.Fix, checks.DocURL(r.ID))
		}
		if verbose {
			writeDiagnoses(w, r.Diagnoses)
		}
	}
}

func writeDiagnoses(w io.Writer, ds []*checks.Diagnosis) {
	for _, d := range ds {
		fmt.Fprintf(w, "      %s (%s): state %s, health %s, exit code %d, restarts %d, OOM-killed %v\n",
			d.Service, d.Container, d.State, dash(d.Health), d.ExitCode, d.RestartCount, d.OOMKilled)
		if d.HealthOutput != "" {
			fmt.Fprintf(w, "        last healthcheck: %s\n", strings.Join(strings.Fields(d.HealthOutput), " "))
		}
		if len(d.LogTail) > 0 {
			fmt.Fprintf(w, "        last log lines:\n")
			for _, l := range d.LogTail {
				fmt.Fprintf(w, "          %s\n", l)
			}
		}
	}
}

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

// writeDoctor prints the report: prerequisites, then the install's own checks.
func writeDoctor(w io.Writer, r DoctorReport, tty, color bool) error {
	var pre, stack []checks.Result
	for _, res := range r.Checks {
		if isStackCheck(res.ID) {
			stack = append(stack, res)
		} else {
			pre = append(pre, res)
		}
	}
	if len(pre) > 0 {
		fmt.Fprintln(w, "Prerequisites")
		writeResults(w, pre, tty, color, true)
	}
	switch {
	case len(stack) > 0:
		fmt.Fprintf(w, "\nInstall in %s\n", r.InstallDir)
		writeResults(w, stack, tty, color, true)
	case !r.Installed:
		fmt.Fprintf(w, "\nNothing is installed in %s yet: `dataeco install` sets it up.\n", r.InstallDir)
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d warnings, %d skipped\n", s["pass"], s["fail"], s["warn"], s["skip"])
	return err
}

// isStackCheck says whether a check looks at the install rather than the machine.
func isStackCheck(id string) bool {
	for _, c := range checks.StackChecks() {
		if c.ID == id {
			return true
		}
	}
	return false
}

func writeCheckList(w io.Writer, list []checks.Check) error {
	for _, ch := range list {
		if _, err := fmt.Fprintf(w, "%-14s %s\n", ch.ID, ch.Title); err != nil {
			return err
		}
	}
	return nil
}

// writeSmokeTable prints one row per check: PASS/FAIL/SKIP, its time and what it found.
func writeSmokeTable(w io.Writer, results []checks.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tDETAIL")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%s\n", r.ID, strings.ToUpper(string(r.Status)), float64(r.DurationMS)/1000, r.Message)
	}
	tw.Flush()
	for _, r := range results {
		if r.Status == checks.Fail && r.Fix != "" {
			fmt.Fprintf(w, "%s: %s\n", r.ID, r.Fix)
		}
	}
}

// writeEnv writes the variables sorted, one a line as line renders them, and names the
// hidden ones in a comment.
func writeEnv(w io.Writer, vars map[string]string, hidden []string, line func(k, v string) string) {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintln(w, line(k, vars[k]))
	}
	if len(hidden) > 0 {
		fmt.Fprintf(w, "# %s: add --show-secrets\n", strings.Join(hidden, ", "))
	}
}

func writeStatus(w io.Writer, rows []ServiceStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tHEALTH\tPORTS\tUPTIME")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Service, r.State, dash(r.Health), dash(strings.Join(r.Ports, ", ")), dash(r.Uptime))
	}
	return tw.Flush()
}

func writeInstalls(w io.Writer, installs []engine.Install) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tSTATE\tRUNNING\tDIR")
	for _, in := range installs {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", in.Project, in.State(), in.Running, in.Containers-in.Done, dash(in.Dir))
	}
	return tw.Flush()
}

func writeCredentials(w io.Writer, creds []credential) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tUSER\tPASSWORD")
	for _, cr := range creds {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cr.Service, cr.User, cr.Password)
	}
	return tw.Flush()
}

func writeImages(w io.Writer, refs []ImageRef) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tSERVICES\tNOTE")
	for _, r := range refs {
		note := "-"
		switch {
		case r.BuiltFrom != "":
			note = "built here from " + r.BuiltFrom
		case r.Replaces != "":
			note = fmt.Sprintf("--image %s, in place of %s", r.Override, r.Replaces)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Image, strings.Join(r.Services, ","), note)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// gibibytes writes memory the way engines report it.
func gibibytes(n int64) string {
	if n <= 0 {
		return "unknown memory"
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// ip parses a host that may be an address, bracketed or not; nil when it is a name.
func ip(host string) net.IP { return net.ParseIP(strings.Trim(host, "[]")) }
