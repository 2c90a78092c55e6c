package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Fake pip (`pip`, `pip3` in every image; the Airflow image is where it
// matters). There is no package index: `pip install` "installs" a
// requirement by writing a small dist-info directory (METADATA with Name
// and Version, and the requirement as asked) into the site directory, so
// that `pip show` and `pip list` find it afterwards, in the built image.
// Project names starting with dataeco-missing are not on the stand-in index
// and fail as real pip fails for a package that does not exist.
// apache-airflow is on it only at the image's $AIRFLOW_VERSION, and is
// always installed in an image that has that variable.

const pipVersionLine = "pip 25.2 from /usr/local/lib/python%s/site-packages/pip (python %s)"

// pythonVersion is the image's Python: the pythonX.Y part of the tag.
func pythonVersion() string {
	if m := regexp.MustCompile(`python(\d+\.\d+)`).FindStringSubmatch(os.Getenv("STANDIN_VERSION")); m != nil {
		return m[1]
	}
	return "3.12"
}

// pipSiteDir is where installed projects are recorded: $STANDIN_PIP_SITE,
// else the airflow user's site directory, as in the real image (PIP_USER).
func pipSiteDir() string {
	return envOr("STANDIN_PIP_SITE", "/home/airflow/.local/lib/python"+pythonVersion()+"/site-packages")
}

// pipGeteuid is os.Geteuid; tests replace it.
var pipGeteuid = os.Geteuid

var pipSeparatorsRe = regexp.MustCompile(`[-_.]+`)

// pipNormalize is a project name as the index compares them (PEP 503).
func pipNormalize(name string) string {
	return strings.ToLower(pipSeparatorsRe.ReplaceAllString(name, "-"))
}

// pipReq is one requirement, from the command line or a requirements file.
type pipReq struct {
	raw     string   // as written
	name    string   // project name as written
	extras  string   // "[a,b]" or ""
	clauses []string // version specifiers, e.g. ">=2.2", "<3"
	url     string   // a direct reference (name @ URL)
	marker  string
	origin  string // "-r FILE (line N)" or ""
}

// String renders the requirement as pip prints it: specifiers sorted and
// joined by commas, without spaces.
func (r pipReq) String() string {
	s := r.name + r.extras
	if r.url != "" {
		s += " @ " + r.url
	}
	c := slices.Clone(r.clauses)
	sort.Strings(c)
	s += strings.Join(c, ",")
	if r.marker != "" {
		s += "; " + r.marker
	}
	return s
}

var (
	pipReqRe    = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[A-Za-z0-9._,\s-]*\])?\s*(.*)$`)
	pipClauseRe = regexp.MustCompile(`^(===|==|!=|~=|<=|>=|<|>)\s*([A-Za-z0-9.*+!_-]+)$`)
)

// parsePipReq parses a PEP 508 requirement (without evaluating markers).
func parsePipReq(s string) (pipReq, error) {
	r := pipReq{raw: strings.TrimSpace(s)}
	m := pipReqRe.FindStringSubmatch(r.raw)
	if m == nil {
		return r, toolErrorf("Invalid requirement: '%s'", r.raw)
	}
	r.name = m[1]
	if m[2] != "" {
		var ex []string
		for _, e := range strings.Split(strings.Trim(m[2], "[]"), ",") {
			if e = strings.TrimSpace(e); e != "" {
				ex = append(ex, e)
			}
		}
		r.extras = "[" + strings.Join(ex, ",") + "]"
	}
	rest := m[3]
	if spec, marker, ok := strings.Cut(rest, ";"); ok {
		rest, r.marker = spec, strings.TrimSpace(marker)
	}
	rest = strings.TrimSpace(rest)
	switch {
	case rest == "":
	case strings.HasPrefix(rest, "@"):
		r.url = strings.TrimSpace(rest[1:])
		if r.url == "" || strings.ContainsAny(r.url, " \t") {
			return r, toolErrorf("Invalid requirement: '%s': Expected URL after @", r.raw)
		}
	default:
		if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
			rest = rest[1 : len(rest)-1]
		}
		for _, c := range strings.Split(rest, ",") {
			cm := pipClauseRe.FindStringSubmatch(strings.TrimSpace(c))
			if cm == nil {
				return r, toolErrorf("Invalid requirement: '%s': Expected end or semicolon (after name and no valid version specifier)", r.raw)
			}
			r.clauses = append(r.clauses, cm[1]+cm[2])
		}
	}
	return r, nil
}

// pipCmpVersion compares two versions by their dot-separated parts,
// numerically where both parts are numbers.
func pipCmpVersion(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for len(pa) < len(pb) {
		pa = append(pa, "0")
	}
	for len(pb) < len(pa) {
		pb = append(pb, "0")
	}
	for i := range pa {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
		case pa[i] != pb[i]:
			return strings.Compare(pa[i], pb[i])
		}
	}
	return 0
}

// pipSatisfies reports whether version v meets one specifier clause.
func pipSatisfies(v, clause string) bool {
	m := pipClauseRe.FindStringSubmatch(clause)
	if m == nil {
		return false
	}
	op, want := m[1], m[2]
	eq := func() bool {
		if prefix, ok := strings.CutSuffix(want, ".*"); ok {
			return v == prefix || strings.HasPrefix(v, prefix+".")
		}
		return pipCmpVersion(v, want) == 0
	}
	c := pipCmpVersion(v, want)
	switch op {
	case "===":
		return v == want
	case "==":
		return eq()
	case "!=":
		return !eq()
	case ">=":
		return c >= 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case "<":
		return c < 0
	case "~=":
		parts := strings.Split(want, ".")
		if len(parts) < 2 || c < 0 {
			return false
		}
		prefix := strings.Join(parts[:len(parts)-1], ".")
		return v == prefix || strings.HasPrefix(v, prefix+".")
	}
	return false
}

// pipCandidate is the version the stand-in index offers for a set of
// clauses: the pinned one, else the highest lower bound, else 1.0.0.
func pipCandidate(clauses []string) string {
	best := ""
	for _, c := range clauses {
		m := pipClauseRe.FindStringSubmatch(c)
		switch m[1] {
		case "==", "===":
			return strings.ReplaceAll(m[2], "*", "0")
		case ">=", "~=":
			if best == "" || pipCmpVersion(m[2], best) > 0 {
				best = m[2]
			}
		case ">":
			if v := m[2] + ".1"; best == "" || pipCmpVersion(v, best) > 0 {
				best = v
			}
		}
	}
	if best == "" {
		best = "1.0.0"
	}
	return best
}

// pipInstalled is a project found in the site directory.
type pipInstalled struct {
	Name, Version, Summary, Dir string
}

// pipScanSite lists the installed projects, apache-airflow included when
// the image has an AIRFLOW_VERSION.
func pipScanSite(site string) map[string]pipInstalled {
	out := map[string]pipInstalled{}
	if v := os.Getenv("AIRFLOW_VERSION"); v != "" {
		out["apache-airflow"] = pipInstalled{Name: "apache-airflow", Version: v, Summary: "Programmatically author, schedule and monitor data pipelines (stand-in)"}
	}
	entries, _ := os.ReadDir(site)
	for _, e := range entries {
		if !e.IsDir() || !strings.HasSuffix(e.Name(), ".dist-info") {
			continue
		}
		dir := filepath.Join(site, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "METADATA"))
		if err != nil {
			continue
		}
		p := pipInstalled{Dir: dir}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "Name":
				p.Name = strings.TrimSpace(v)
			case "Version":
				p.Version = strings.TrimSpace(v)
			case "Summary":
				p.Summary = strings.TrimSpace(v)
			}
		}
		if p.Name != "" {
			out[pipNormalize(p.Name)] = p
		}
	}
	return out
}

func pipMain(args []string) int {
	return runPip(args, os.Stdout, os.Stderr)
}

const pipUsage = `
Usage:   
  pip <command> [options]

Commands (stand-in): install, show, list, freeze, check
`

func runPip(args []string, stdout, stderr io.Writer) int {
	if os.Getenv("STANDIN_ROLE") == "airflow" && pipGeteuid() == 0 {
		// The Airflow image's /usr/local/bin/pip wrapper.
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "You are running pip as root. Please use 'airflow' user to run pip!")
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "See: https://airflow.apache.org/docs/docker-stack/build.html#adding-new-pypi-packages-individually")
		fmt.Fprintln(stdout)
		return 1
	}
	var cmd string
	var rest []string
	for i, a := range args {
		switch a {
		case "--version", "-V":
			fmt.Fprintf(stdout, pipVersionLine+"\n", pythonVersion(), pythonVersion())
			return 0
		case "--no-cache-dir", "-q", "--quiet", "-v", "--verbose", "--disable-pip-version-check", "--no-input", "--isolated", "--no-color":
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue // general options are accepted before the command
		}
		cmd, rest = a, append(args[:i:i], args[i+1:]...)
		break
	}
	switch cmd {
	case "":
		fmt.Fprint(stderr, pipUsage)
		return 0
	case "install":
		return pipInstall(rest, stdout, stderr)
	case "show":
		return pipShow(rest, stdout, stderr)
	case "list":
		return pipList(rest, stdout, stderr, false)
	case "freeze":
		return pipList(rest, stdout, stderr, true)
	case "check":
		fmt.Fprintln(stdout, "No broken requirements found.")
		return 0
	}
	fmt.Fprintf(stderr, "ERROR: unknown command \"%s\"\n", cmd)
	return 1
}

// pipIgnoredValueOpts are options with a value that the stand-in accepts
// and ignores: the index options dataeco passes through, and a few more.
var pipIgnoredValueOpts = map[string]bool{
	"-i": true, "--index-url": true, "--extra-index-url": true, "--trusted-host": true,
	"-f": true, "--find-links": true, "-c": true, "--constraint": true, "--root-user-action": true,
	"--progress-bar": true, "--only-binary": true, "--no-binary": true, "--upgrade-strategy": true,
	"--cache-dir": true, "--timeout": true, "--retries": true, "--log": true,
}

var pipIgnoredFlags = map[string]bool{
	"--no-cache-dir": true, "-q": true, "-qq": true, "-qqq": true, "--quiet": true, "-v": true, "--verbose": true,
	"--user": true, "-U": true, "--upgrade": true, "--no-deps": true, "--disable-pip-version-check": true,
	"--no-warn-script-location": true, "--no-input": true, "--pre": true, "--prefer-binary": true,
	"--no-index": true, "--force-reinstall": true, "--ignore-installed": true, "--no-build-isolation": true,
	"--break-system-packages": true, "--no-compile": true, "--require-hashes": true,
}

type pipInstallArgs struct {
	quiet bool
	reqs  []pipReq
	// indexes are the package indexes given with -i, --index-url or
	// --extra-index-url. The stand-in index needs none; one given by IP
	// address is asked for each project over HTTP(S), with the image's
	// trusted CAs, so a build fails on an untrusted certificate as pip's
	// would. One given by name is ignored, as before.
	indexes []string
}

// pipIndexOpts are the options that name a package index.
var pipIndexOpts = map[string]bool{"-i": true, "--index-url": true, "--extra-index-url": true}

// parsePipInstallArgs reads the command line of `pip install`, and the
// requirement files it names.
func parsePipInstallArgs(args []string) (pipInstallArgs, error) {
	var a pipInstallArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		flag, val, hasVal := strings.Cut(arg, "=")
		if !strings.HasPrefix(flag, "--") {
			flag, val, hasVal = arg, "", false
			if len(arg) > 2 && arg[0] == '-' && strings.ContainsRune("rcif", rune(arg[1])) { // -rFILE
				flag, val, hasVal = arg[:2], arg[2:], true
			}
		}
		switch {
		case arg == "-":
			return a, toolErrorf("Invalid requirement: '-'")
		case !strings.HasPrefix(arg, "-"):
			r, err := parsePipReq(arg)
			if err != nil {
				return a, err
			}
			a.reqs = append(a.reqs, r)
			continue
		case pipIgnoredFlags[flag]:
			if strings.HasPrefix(flag, "-q") || flag == "--quiet" {
				a.quiet = true
			}
			continue
		case flag == "-r" || flag == "--requirement" || pipIgnoredValueOpts[flag]:
			if !hasVal {
				if i+1 >= len(args) {
					return a, fmt.Errorf("%s option requires 1 argument", flag)
				}
				i++
				val = args[i]
			}
			if flag == "-r" || flag == "--requirement" {
				reqs, indexes, err := readPipReqFile(val, 0)
				if err != nil {
					return a, err
				}
				a.reqs = append(a.reqs, reqs...)
				a.indexes = append(a.indexes, indexes...)
			}
			if pipIndexOpts[flag] {
				a.indexes = append(a.indexes, val)
			}
			continue
		}
		return a, fmt.Errorf("no such option: %s", flag)
	}
	return a, nil
}

var pipEnvVarRe = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// readPipReqFile reads a requirements file as pip does: comments, line
// continuations, ${VAR}, nested -r files, and the index options (accepted
// and ignored).
func readPipReqFile(path string, depth int) ([]pipReq, []string, error) {
	if depth > 10 {
		return nil, nil, fmt.Errorf("requirements files nested too deep at %s", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, toolErrorf("Could not open requirements file: [Errno 2] No such file or directory: '%s'", path)
	}
	defer f.Close()
	var out []pipReq
	var indexes []string
	sc := bufio.NewScanner(f)
	n, start, pending := 0, 0, ""
	for sc.Scan() {
		n++
		line := sc.Text()
		if pending == "" {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		line, pending = pending+line, ""
		if i := strings.Index(line, "#"); i == 0 || i > 0 && (line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
		}
		line = strings.TrimSpace(pipEnvVarRe.ReplaceAllStringFunc(line, func(s string) string {
			return os.Getenv(pipEnvVarRe.FindStringSubmatch(s)[1])
		}))
		if line == "" {
			continue
		}
		origin := fmt.Sprintf("-r %s (line %d)", path, start)
		if strings.HasPrefix(line, "-") {
			fields := strings.Fields(line)
			flag, val, hasVal := strings.Cut(fields[0], "=")
			if !strings.HasPrefix(flag, "--") && len(flag) > 2 {
				flag, val, hasVal = flag[:2], flag[2:], true
			}
			if !hasVal && len(fields) > 1 {
				val, hasVal = strings.Join(fields[1:], " "), true
			}
			switch {
			case flag == "-r" || flag == "--requirement":
				if !hasVal {
					return nil, nil, fmt.Errorf("%s option requires 1 argument (from line %d of %s)", flag, start, path)
				}
				if !filepath.IsAbs(val) {
					val = filepath.Join(filepath.Dir(path), val)
				}
				reqs, more, err := readPipReqFile(val, depth+1)
				if err != nil {
					return nil, nil, err
				}
				out, indexes = append(out, reqs...), append(indexes, more...)
			case pipIgnoredValueOpts[flag]:
				if !hasVal {
					return nil, nil, fmt.Errorf("%s option requires 1 argument (from line %d of %s)", flag, start, path)
				}
				if pipIndexOpts[flag] {
					indexes = append(indexes, val)
				}
			case pipIgnoredFlags[flag]:
			default:
				return nil, nil, fmt.Errorf("no such option: %s", flag)
			}
			continue
		}
		r, err := parsePipReq(line)
		if err != nil {
			return nil, nil, fmt.Errorf("%v (from line %d of %s)", err, start, path)
		}
		r.origin = origin
		out = append(out, r)
	}
	return out, indexes, sc.Err()
}

// pipProject is what one project needs after merging its requirements.
type pipProject struct {
	key     string // normalized name
	reqs    []pipReq
	version string
}

func pipInstall(args []string, stdout, stderr io.Writer) int {
	a, err := parsePipInstallArgs(args)
	if err != nil {
		if strings.HasPrefix(err.Error(), "no such option") || strings.HasSuffix(err.Error(), "requires 1 argument") {
			fmt.Fprintf(stderr, "\nUsage:   \n  pip install [options] <requirement specifier> [package-index-options] ...\n  pip install [options] -r <requirements file> [package-index-options] ...\n\n%v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return 1
	}
	if len(a.reqs) == 0 {
		fmt.Fprintln(stderr, `ERROR: You must give at least one requirement to install (see "pip help install")`)
		return 1
	}
	say := func(format string, v ...any) {
		if !a.quiet {
			fmt.Fprintf(stdout, format, v...)
		}
	}
	site := pipSiteDir()
	installed := pipScanSite(site)

	// Resolve everything before installing anything, as pip does.
	var order []string
	projects := map[string]*pipProject{}
	for _, r := range a.reqs {
		k := pipNormalize(r.name)
		if projects[k] == nil {
			projects[k] = &pipProject{key: k}
			order = append(order, k)
		}
		projects[k].reqs = append(projects[k].reqs, r)
	}
	notFound := func(r pipReq, versions string) int {
		fmt.Fprintf(stderr, "ERROR: Could not find a version that satisfies the requirement %s (from versions: %s)\n", r, versions)
		fmt.Fprintf(stderr, "ERROR: No matching distribution found for %s\n", r)
		return 1
	}
	for _, k := range order {
		if err := pipAskIndexes(a.indexes, k, stderr); err != nil {
			return notFound(projects[k].reqs[0], "none")
		}
	}
	for _, k := range order {
		p := projects[k]
		var clauses []string
		for _, r := range p.reqs {
			clauses = append(clauses, r.clauses...)
		}
		available := ""
		switch {
		case strings.HasPrefix(k, "dataeco-missing"):
			return notFound(p.reqs[0], "none")
		case k == "apache-airflow":
			available = airflowPackageVersion()
			p.version = available
		default:
			p.version = pipCandidate(clauses)
		}
		for _, r := range p.reqs {
			for _, c := range r.clauses {
				if pipSatisfies(p.version, c) {
					continue
				}
				if len(p.reqs) > 1 && available == "" {
					var names []string
					for _, rr := range p.reqs {
						names = append(names, rr.String())
					}
					fmt.Fprintf(stderr, "ERROR: Cannot install %s because these package versions have conflicting dependencies.\n\nThe conflict is caused by:\n", strings.Join(names, " and "))
					for _, rr := range p.reqs {
						fmt.Fprintf(stderr, "    The user requested %s\n", rr)
					}
					fmt.Fprint(stderr, "\nTo fix this you could try to:\n1. loosen the range of package versions you've specified\n2. remove package versions to allow pip to attempt to solve the dependency conflict\n\n")
					fmt.Fprintln(stderr, "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts")
					return 1
				}
				if available == "" {
					available = "none"
				}
				return notFound(r, available)
			}
		}
	}

	var toInstall []*pipProject
	for _, k := range order {
		p := projects[k]
		r := p.reqs[0]
		if have, ok := installed[k]; ok && have.Version == p.version {
			say("Requirement already satisfied: %s in %s (%s)\n", r, site, have.Version)
			continue
		}
		from := ""
		if r.origin != "" {
			from = " (from " + r.origin + ")"
		}
		say("Collecting %s%s\n", r, from)
		say("  Downloading %s-%s-py3-none-any.whl (stand-in index)\n", strings.ReplaceAll(k, "-", "_"), p.version)
		toInstall = append(toInstall, p)
	}
	if len(toInstall) == 0 {
		return 0
	}
	var names, done []string
	for _, p := range toInstall {
		names = append(names, p.reqs[0].name)
	}
	say("Installing collected packages: %s\n", strings.Join(names, ", "))
	for _, p := range toInstall {
		if old, ok := installed[p.key]; ok && old.Dir != "" {
			os.RemoveAll(old.Dir)
		}
		if err := pipRecord(site, p); err != nil {
			fmt.Fprintf(stderr, "ERROR: Could not install packages due to an OSError: %v\n", err)
			return 1
		}
		done = append(done, p.reqs[0].name+"-"+p.version)
	}
	say("Successfully installed %s\n", strings.Join(done, " "))
	return 0
}

// pipRecord writes the dist-info directory of an installed project.
func pipRecord(site string, p *pipProject) error {
	r := p.reqs[0]
	dir := filepath.Join(site, strings.ReplaceAll(p.key, "-", "_")+"-"+p.version+".dist-info")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var asked []string
	for _, rr := range p.reqs {
		asked = append(asked, rr.String())
	}
	meta := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: stand-in for the requirement %s\n", r.name, p.version, strings.Join(asked, " and "))
	files := map[string]string{
		"METADATA":                 meta,
		"INSTALLER":                "pip\n",
		"REQUESTED":                "",
		"standin-requirements.txt": strings.Join(asked, "\n") + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func pipShow(args []string, stdout, stderr io.Writer) int {
	var names []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(stderr, "ERROR: Please provide a package name or names.")
		return 1
	}
	site := pipSiteDir()
	installed := pipScanSite(site)
	var missing []string
	shown := 0
	for _, n := range names {
		p, ok := installed[pipNormalize(n)]
		if !ok {
			missing = append(missing, n)
			continue
		}
		if shown > 0 {
			fmt.Fprintln(stdout, "---")
		}
		shown++
		fmt.Fprintf(stdout, "Name: %s\nVersion: %s\nSummary: %s\nHome-page: \nAuthor: \nAuthor-email: \nLicense: \nLocation: %s\nRequires: \nRequired-by: \n",
			p.Name, p.Version, p.Summary, site)
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "WARNING: Package(s) not found: %s\n", strings.Join(missing, ", "))
		return 1
	}
	return 0
}

func pipList(args []string, stdout, stderr io.Writer, freeze bool) int {
	format := "columns"
	if freeze {
		format = "freeze"
	}
	for i := 0; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		if flag == "--format" {
			if !hasVal && i+1 < len(args) {
				i++
				val = args[i]
			}
			format = val
		}
	}
	installed := pipScanSite(pipSiteDir())
	var keys []string
	for k := range installed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	switch format {
	case "freeze":
		for _, k := range keys {
			fmt.Fprintf(stdout, "%s==%s\n", installed[k].Name, installed[k].Version)
		}
	case "json":
		var out []map[string]string
		for _, k := range keys {
			out = append(out, map[string]string{"name": installed[k].Name, "version": installed[k].Version})
		}
		if out == nil {
			out = []map[string]string{}
		}
		b, _ := json.Marshal(out)
		fmt.Fprintln(stdout, string(b))
	case "columns":
		w1, w2 := len("Package"), len("Version")
		for _, k := range keys {
			w1, w2 = max(w1, len(installed[k].Name)), max(w2, len(installed[k].Version))
		}
		fmt.Fprintf(stdout, "%-*s %s\n%s %s\n", w1, "Package", "Version", strings.Repeat("-", w1), strings.Repeat("-", w2))
		for _, k := range keys {
			fmt.Fprintf(stdout, "%-*s %s\n", w1, installed[k].Name, installed[k].Version)
		}
	default:
		fmt.Fprintf(stderr, "ERROR: invalid choice: '%s' (choose from 'columns', 'freeze', 'json')\n", format)
		return 2
	}
	return 0
}

// pipAskIndexes asks each index given for a project's page, as pip does
// before it picks a version, and says what failed in pip's words: an
// untrusted certificate as Python's ssl module reports it.
func pipAskIndexes(indexes []string, project string, stderr io.Writer) error {
	for _, index := range indexes {
		if pu, err := url.Parse(index); err != nil || net.ParseIP(pu.Hostname()) == nil {
			continue // a name: there is no DNS in the stand-in world, and no traffic leaves it
		}
		u := strings.TrimSuffix(index, "/") + "/" + project + "/"
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				continue
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		var unknown x509.UnknownAuthorityError
		var verify *tls.CertificateVerificationError
		if errors.As(err, &unknown) || errors.As(err, &verify) {
			fmt.Fprintf(stderr, "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by "+
				"'SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1000)'))': /%s/\n", project)
			fmt.Fprintf(stderr, "Could not fetch URL %s: There was a problem confirming the ssl certificate: Max retries exceeded with url: %s "+
				"(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1000)'))) - skipping\n", u, u)
			return err
		}
		fmt.Fprintf(stderr, "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by '%v': /%s/\n", err, project)
		return err
	}
	return nil
}
