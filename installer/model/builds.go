package model

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/dataeco/dataeco/embedded"
	"github.com/dataeco/dataeco/embedded/pipeline"
	"github.com/dataeco/dataeco/installer/hint"
)

// Images dataeco builds. The official images fetch what the pipeline needs when they start:
// Airflow pip-installs the DAG's packages at every container start, and spark-submit
// resolves the connectors from Maven Central at the first. Neither works on a train, behind
// a firewall, or from an `images save` bundle. So dataeco builds, once per content digest,
// an image FROM each pinned one with those packages inside, plus the user's own.

// Files in the install dir where the user adds to the built images. install creates them,
// with a comment, and never rewrites them.
const (
	RequirementsFile  = "requirements.txt"   // Python packages for Airflow
	SparkPackagesFile = "spark-packages.txt" // Maven packages for Spark, group:artifact:version
)

// Build is an image dataeco builds on top of a pinned one.
type Build struct {
	Name string // airflow or spark
	// Base is the pinned image it starts FROM, as pulled (through --registry when given).
	Base string
	// Tag is the local name of the result: dataeco/NAME:BASE_TAG-DIGEST. The digest covers
	// every input, so a change to any of them is a new image and nothing else is.
	Tag string
	// Files is the build context: the Dockerfile and what it copies in.
	Files map[string][]byte
}

// Inputs are what the machine and the install dir add to the answers: the user's package
// lists for the builds, and the host name clients on the network reach this machine by.
type Inputs struct {
	Requirements  []byte
	SparkPackages []byte
	// CACerts are the certificate authorities the built images trust beside their own
	// (CACertsFile); empty: only the base image's.
	CACerts []byte
	// Override is the user's docker-compose.override.yml (OverrideFile), merged over the
	// rendered file the way Compose merges it; empty: none.
	Override []byte
	// Hostname is this machine's name, advertised when the stack listens on every address
	// and the user named no --advertise host.
	Hostname string
	// HealthStartInterval: the engine runs a healthcheck's start_interval and no compose on
	// this machine refuses the key, so the cheap checks carry one (EngineFile keeps it).
	HealthStartInterval bool
	// SwarmJobs: the swarm's manager runs the one-shot jobs as swarm jobs and removes their
	// tasks with their service (Engine 24 and later), so the stack file asks for them
	// (EngineFile keeps it; see SwarmFile).
	SwarmJobs bool
	// RemoteHost is the machine the engine runs on when it is not this one (ssh:// or tcp://
	// to another host; EngineFile keeps it): its ports are published there, not here.
	RemoteHost string
	// Endpoint is how the engine was reached when it is remote (tcp://…, ssh://…): an ssh://
	// one is where dataeco opens SSH tunnels to the ports on that machine's loopback.
	Endpoint string
	// SwarmHome is the swarm node a swarm install keeps its data and ports on (EngineFile
	// keeps it): chosen once, at the first install, so the stateful services never move off
	// their volumes.
	SwarmHome string
	// SwarmPlaces are the nodes the members of a cluster after the first run on (broker-2 …),
	// each on its own node and never moved off it, for its volumes are there (EngineFile
	// keeps them); the first member is on the home node.
	SwarmPlaces map[string]SwarmPlace
}

// SwarmPlace is the node a cluster's member is pinned to: its ID, and the address clients
// reach the member at (the node's address in the swarm), which the member advertises.
type SwarmPlace struct {
	Node string `yaml:"node"`
	Addr string `yaml:"addr"`
}

// MachineName is the name of the machine the stack's ports are published on: the engine's
// when it is remote, else this one's.
func (u Inputs) MachineName() string {
	if u.RemoteHost != "" {
		return u.RemoteHost
	}
	return u.Hostname
}

// ReadInputs reads the user's files from dir (requirements.txt, spark-packages.txt, the CA
// certificates and docker-compose.override.yml; missing files are empty), what install found
// of the engine (EngineFile) and this machine's host name.
func ReadInputs(dir string) (Inputs, error) {
	var u Inputs
	u.Hostname, _ = os.Hostname()
	for name, dst := range map[string]*[]byte{RequirementsFile: &u.Requirements, SparkPackagesFile: &u.SparkPackages, CACertsFile: &u.CACerts, OverrideFile: &u.Override} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			return u, fmt.Errorf("reading %s: %w", name, err)
		}
		*dst = b
	}
	return u, readEngineFacts(dir, &u)
}

// CheckInputs reads the user's package lists in dir and refuses what cannot be built, before
// anything else happens.
func CheckInputs(dir string) error {
	in, err := ReadInputs(dir)
	if err != nil {
		return err
	}
	if _, err := ParseRequirements(in.Requirements); err != nil {
		return err
	}
	_, err = ParseSparkPackages(in.SparkPackages)
	return err
}

// The connectors the streaming job needs: Scala 2.12 builds for Spark 3.5. Any 3.5.x Kafka
// connector runs on Spark 3.5.8; 3.5.7 is the newest one the package mirrors our tests use
// serve.
var sparkConnectors = []string{
	"org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7",
	"com.datastax.spark:spark-cassandra-connector_2.12:3.5.1",
}

// airflowDockerfile installs the pipeline's and the user's packages. apache-airflow is named
// at the image's own version in the same pip call, so no requirement can move Airflow. It
// also carries job_alive.py, the DAG processor's and triggerer's healthcheck.
const airflowDockerfile = `# Built by dataeco: the pinned Airflow image with the pipeline's Python packages and yours
# (requirements.txt in the install dir), so a container start needs no package index.
FROM %s
COPY requirements-dataeco.txt requirements-user.txt job_alive.py /opt/dataeco/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
      -r /opt/dataeco/requirements-dataeco.txt -r /opt/dataeco/requirements-user.txt
`

// sparkDockerfile resolves the connectors and the user's packages with Spark's own resolver
// (spark-submit --packages, which leaves out what Spark already ships) and puts the jars on
// Spark's classpath, so the streaming job and the user's jobs need no Maven repository.
const sparkDockerfile = `# Built by dataeco: the pinned Spark image with the pipeline's connectors and your packages
# (spark-packages.txt in the install dir) in /opt/spark/jars, so no job fetches them at start.
FROM %s
USER root
COPY spark-packages.txt /opt/dataeco/spark-packages.txt
RUN set -e; \
    packages=$(grep -v '^ *#' /opt/dataeco/spark-packages.txt | grep . | tr '\n' ',' | sed 's/,$//'); \
    echo 'print("packages resolved")' > /tmp/resolve.py; \
    /opt/spark/bin/spark-submit --master 'local[1]' --packages "$packages" \
      --conf spark.jars.ivy=/tmp/ivy /tmp/resolve.py; \
    cp /tmp/ivy/jars/*.jar /opt/spark/jars/; \
    rm -rf /tmp/ivy /tmp/resolve.py
USER 185
`

// Builds lists the images the answers need built, with their inputs.
func Builds(a *Answers, user Inputs) ([]Build, error) {
	var out []Build
	seen := map[string]bool{}
	for _, s := range Catalogue() {
		if s.Build == "" || seen[s.Build] || !s.On(a) {
			continue
		}
		seen[s.Build] = true
		base := a.ImageOf(s.Image)
		var files map[string][]byte
		switch s.Build {
		case "airflow":
			reqs, err := ParseRequirements(user.Requirements)
			if err != nil {
				return nil, err
			}
			dataeco, _ := pipeline.Files.ReadFile("requirements-airflow.txt")
			files = map[string][]byte{"Dockerfile": fmt.Appendf(nil, airflowDockerfile, base),
				"requirements-dataeco.txt": dataeco, "requirements-user.txt": reqs, "job_alive.py": embedded.AirflowJobAlive}
		case "spark":
			pkgs, err := ParseSparkPackages(user.SparkPackages)
			if err != nil {
				return nil, err
			}
			list := "# the pipeline's connectors, then yours\n" + strings.Join(append(slices.Clone(sparkConnectors), pkgs...), "\n") + "\n"
			files = map[string][]byte{"Dockerfile": fmt.Appendf(nil, sparkDockerfile, base), "spark-packages.txt": []byte(list)}
		default:
			return nil, fmt.Errorf("no recipe for the %s image", s.Build)
		}
		if len(user.CACerts) > 0 {
			files[CACertsFile] = user.CACerts
			files["Dockerfile"] = withTrust(files["Dockerfile"], s.Build)
		}
		out = append(out, Build{Name: s.Build, Base: base, Files: files,
			Tag: fmt.Sprintf("dataeco/%s:%s-%s", s.Build, imageTag(base), digest(files)[:12])})
	}
	return out, nil
}

// withTrust puts the trust snippet right after a Dockerfile's FROM line, then gives the
// image its user back where the rest of the recipe runs as that user.
func withTrust(dockerfile []byte, build string) []byte {
	i := bytes.Index(dockerfile, []byte("\nFROM "))
	end := i + 1 + bytes.IndexByte(dockerfile[i+1:], '\n') + 1
	head, rest := dockerfile[:end], dockerfile[end:]
	var out bytes.Buffer
	out.Write(head)
	out.WriteString(trustSnippet)
	if build == "airflow" {
		out.WriteString("USER 50000\n") // the Airflow image's own user, for pip's user install
	}
	out.Write(rest)
	return out.Bytes()
}

// digest covers every file of a build context, names included, in a fixed order.
func digest(files map[string][]byte) string {
	h := sha256.New()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s %d\n", n, len(files[n]))
		h.Write(files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// requirementRE is a requirement line pip takes: a project name, optional extras, then
// version specifiers, a URL or environment markers.
var requirementRE = func() *regexp.Regexp {
	name := `[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?`
	spec := `(===|[<>=!~]=|[<>])\s*[A-Za-z0-9*.+!_-]+`
	return regexp.MustCompile(`^(` + name + `)\s*(\[[A-Za-z0-9._,\s-]*\])?\s*(` + spec + `(\s*,\s*` + spec + `)*|@\s*\S+)?\s*(;.*)?$`)
}()

// ParseRequirements checks requirements.txt line by line and returns its requirements and
// options without comments, so that a comment changes nothing that is built. apache-airflow
// itself is refused: installing another Airflow over the image's breaks
// it, and the image's version is pinned in the same pip call anyway.
func ParseRequirements(b []byte) ([]byte, error) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(why string) error {
			return hint.New(fmt.Sprintf("edit %s: one package a line, like confluent-kafka==2.16.1 or pandas>=2.2", RequirementsFile),
				fmt.Errorf("%s line %d: %q %s", RequirementsFile, n, line, why))
		}
		if strings.HasPrefix(line, "-") {
			opt, _, _ := strings.Cut(line, " ")
			if !slices.Contains([]string{"--index-url", "--extra-index-url", "--trusted-host", "--find-links", "-i", "-f"}, opt) {
				return nil, bad("is an option dataeco cannot pass into the image build (only index options are)")
			}
			out.WriteString(line + "\n")
			continue
		}
		m := requirementRE.FindStringSubmatch(line)
		if m == nil {
			return nil, bad("is not a requirement pip understands")
		}
		if normalizeProject(m[1]) == "apache-airflow" {
			return nil, hint.New(fmt.Sprintf("remove it from %s: the image's Airflow is kept at its version; change Airflow by upgrading dataeco", RequirementsFile),
				fmt.Errorf("%s line %d asks for apache-airflow itself", RequirementsFile, n))
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes(), sc.Err()
}

var separatorsRE = regexp.MustCompile(`[-_.]+`)

// normalizeProject is a project name the way PyPI compares them (PEP 503).
func normalizeProject(name string) string {
	return strings.ToLower(separatorsRE.ReplaceAllString(name, "-"))
}

var mavenRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+:[A-Za-z0-9_.+-]+$`)

// ParseSparkPackages reads spark-packages.txt: group:artifact:version a line.
func ParseSparkPackages(b []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !mavenRE.MatchString(line) {
			return nil, hint.New(fmt.Sprintf("edit %s: one Maven package a line, group:artifact:version, like org.postgresql:postgresql:42.7.4", SparkPackagesFile),
				fmt.Errorf("%s line %d: %q is not group:artifact:version", SparkPackagesFile, n, line))
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// userFileTemplates are written on the first install, never over the user's.
var userFileTemplates = map[string]string{
	RequirementsFile: `# Your own Python packages for Airflow, one a line as pip takes them (pandas>=2.2).
# dataeco builds them into its Airflow image at the next ` + "`dataeco install`" + `, so your DAGs can
# import them and a container start needs no package index. Not apache-airflow itself.
`,
	SparkPackagesFile: `# Your own Maven packages for Spark jobs, group:artifact:version a line (Scala 2.12 builds
# for Spark 3.5). dataeco puts them with their dependencies in /opt/spark/jars of its Spark
# image at the next ` + "`dataeco install`" + `, beside the pipeline's Kafka and Cassandra connectors.
`,
}

// writeUserFiles creates the user's files when they do not exist yet.
func writeUserFiles(dir string) error {
	for name, text := range userFileTemplates {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			continue
		} else if !os.IsNotExist(err) {
			return err
		}
		if err := WriteFileAtomic(path, []byte(text), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// WriteBuilds writes each build's context under build/NAME in the install dir, so the user
// can read what dataeco builds (and build it by hand).
func WriteBuilds(dir string, builds []Build) error {
	for _, b := range builds {
		bd := filepath.Join(dir, "build", b.Name)
		if err := os.MkdirAll(bd, 0o755); err != nil {
			return err
		}
		for name, data := range b.Files {
			if err := WriteFileAtomic(filepath.Join(bd, name), data, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", filepath.Join(bd, name), err)
			}
		}
	}
	return nil
}
