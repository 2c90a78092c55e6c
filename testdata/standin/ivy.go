package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The stand-in's Ivy: what spark-submit --packages does before anything
// else. It needs a writable spark.jars.ivy directory (or ~/.ivy2), resolves
// each groupId:artifactId:version from a stand-in "central" that has every
// artifact except those named dataeco-missing*, adds a few of the real
// transitive dependencies, and retrieves one small jar per module into
// DIR/jars, named as Spark's Ivy names them: group_artifact-version.jar.

// ivyModule is one Maven module.
type ivyModule struct{ org, name, rev string }

func (m ivyModule) String() string  { return m.org + "#" + m.name + ";" + m.rev }
func (m ivyModule) jarName() string { return m.org + "_" + m.name + "-" + m.rev + ".jar" }

// mavenPath is the module's path in a Maven repository, without extension.
func (m ivyModule) mavenPath() string {
	return strings.ReplaceAll(m.org, ".", "/") + "/" + m.name + "/" + m.rev + "/" + m.name + "-" + m.rev
}

func parseIvyModule(coord string) ivyModule {
	f := strings.SplitN(coord, ":", 3)
	for len(f) < 3 {
		f = append(f, "")
	}
	return ivyModule{f[0], f[1], f[2]}
}

// ivyTransitive lists, per group:artifact, some of the real dependencies
// the stand-in resolves along with it; "=" is the module's own version.
var ivyTransitive = map[string][]string{
	"org.apache.spark:spark-sql-kafka-0-10_2.12": {
		"org.apache.spark:spark-token-provider-kafka-0-10_2.12:=",
		"org.apache.kafka:kafka-clients:3.4.1",
		"org.apache.commons:commons-pool2:2.11.1",
	},
	"org.apache.spark:spark-sql-kafka-0-10_2.13": {
		"org.apache.spark:spark-token-provider-kafka-0-10_2.13:=",
		"org.apache.kafka:kafka-clients:3.4.1",
		"org.apache.commons:commons-pool2:2.11.1",
	},
	"com.datastax.spark:spark-cassandra-connector_2.12": {"com.datastax.spark:spark-cassandra-connector-driver_2.12:="},
	"com.datastax.spark:spark-cassandra-connector_2.13": {"com.datastax.spark:spark-cassandra-connector-driver_2.13:="},
}

// ivyMissing reports whether the stand-in central lacks an artifact.
func ivyMissing(m ivyModule) bool { return strings.HasPrefix(m.name, "dataeco-missing") }

// ivyResolve returns the modules the packages resolve to, dependencies
// included (the first version of a module wins), and the missing ones.
func ivyResolve(packages []string) (mods, missing []ivyModule) {
	seen := map[string]bool{}
	var add func(m ivyModule)
	add = func(m ivyModule) {
		key := m.org + ":" + m.name
		if seen[key] {
			return
		}
		seen[key] = true
		if ivyMissing(m) {
			missing = append(missing, m)
			return
		}
		mods = append(mods, m)
		for _, d := range ivyTransitive[key] {
			dm := parseIvyModule(d)
			if dm.rev == "=" {
				dm.rev = m.rev
			}
			add(dm)
		}
	}
	for _, p := range packages {
		add(parseIvyModule(p))
	}
	return mods, missing
}

// ivyReport prints Ivy's resolution report table.
func ivyReport(w io.Writer, mods []ivyModule, n, downloaded int) {
	fmt.Fprintf(w, ":: resolution report :: resolve %dms :: artifacts dl %dms\n\t:: modules in use:\n", 300+40*n, 10*downloaded)
	for _, m := range mods {
		fmt.Fprintf(w, "\t%s from central in [default]\n", m)
	}
	cell := func(v int) string {
		s := fmt.Sprint(v)
		left := (7 - len(s)) / 2
		return strings.Repeat(" ", left) + s + strings.Repeat(" ", 7-left-len(s))
	}
	rule := "\t---------------------------------------------------------------------\n"
	fmt.Fprint(w, rule)
	fmt.Fprint(w, "\t|                  |            modules            ||   artifacts   |\n")
	fmt.Fprint(w, "\t|       conf       | number| search|dwnlded|evicted|| number|dwnlded|\n")
	fmt.Fprint(w, rule)
	fmt.Fprintf(w, "\t|      default     |%s|%s|%s|%s||%s|%s|\n", cell(n), cell(downloaded), cell(downloaded), cell(0), cell(len(mods)), cell(downloaded))
	fmt.Fprint(w, rule)
}

// ivyUnresolved prints Ivy's problems summary for missing modules and
// returns the exception spark-submit dies with.
func ivyUnresolved(w io.Writer, missing []ivyModule, dir, home string) error {
	fmt.Fprint(w, "\n:: problems summary ::\n:::: WARNINGS\n")
	for _, m := range missing {
		fmt.Fprintf(w, "\t\tmodule not found: %s\n\n", m)
		fmt.Fprintf(w, "\t==== local-m2-cache: tried\n\n\t  file:%s/.m2/repository/%s.pom\n\n", home, m.mavenPath())
		fmt.Fprintf(w, "\t==== local-ivy-cache: tried\n\n\t  %s/local/%s/%s/%s/ivys/ivy.xml\n\n", dir, m.org, m.name, m.rev)
		fmt.Fprintf(w, "\t==== central: tried\n\n\t  https://repo1.maven.org/maven2/%s.pom\n\n", m.mavenPath())
		fmt.Fprintf(w, "\t==== spark-packages: tried\n\n\t  https://repos.spark-packages.org/%s.pom\n\n", m.mavenPath())
	}
	banner := "\t\t::::::::::::::::::::::::::::::::::::::::::::::\n\n"
	fmt.Fprint(w, banner)
	fmt.Fprint(w, "\t\t::          UNRESOLVED DEPENDENCIES         ::\n\n")
	fmt.Fprint(w, banner)
	var problems []string
	for _, m := range missing {
		fmt.Fprintf(w, "\t\t:: %s: not found\n\n", m)
		problems = append(problems, fmt.Sprintf("unresolved dependency: %s: not found", m))
	}
	fmt.Fprint(w, banner+"\n\n")
	fmt.Fprintln(w, ":: USE VERBOSE OR DEBUG MESSAGE LEVEL FOR MORE DETAILS")
	return toolErrorf("Exception in thread \"main\" java.lang.RuntimeException: [%s]\n"+
		"\tat org.apache.spark.deploy.SparkSubmitUtils$.resolveMavenCoordinates(SparkSubmit.scala)\n"+
		"\tat org.apache.spark.util.DependencyUtils$.resolveMavenDependencies(DependencyUtils.scala)\n"+
		"\tat org.apache.spark.deploy.SparkSubmit.prepareSubmitEnvironment(SparkSubmit.scala)\n"+
		"\tat org.apache.spark.deploy.SparkSubmit.main(SparkSubmit.scala)", strings.Join(problems, ", "))
}

// writeStandinJar writes a small, valid jar (a zip with a manifest) for m.
func writeStandinJar(path string, m ivyModule) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".standin-jar-*")
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	mf, err := zw.CreateHeader(&zip.FileHeader{Name: "META-INF/MANIFEST.MF", Method: zip.Deflate, Modified: time.Now()})
	if err == nil {
		_, err = fmt.Fprintf(mf, "Manifest-Version: 1.0\r\nCreated-By: dataeco stand-in Ivy\r\nImplementation-Title: %s:%s\r\nImplementation-Vendor-Id: %s\r\nImplementation-Version: %s\r\n\r\n", m.org, m.name, m.org, m.rev)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// checkIvy does what spark-submit's Ivy does for --packages (and what it
// needs of the file system even without them when spark.jars.ivy is set): a
// writable spark.jars.ivy directory, or ~/.ivy2 when --packages is given
// without it; then the resolution, and the jars in DIR/jars. It prints
// Ivy's output to w.
func checkIvy(a sparkSubmitArgs, home string, w io.Writer) error {
	dir, explicit := a.conf["spark.jars.ivy"]
	if !explicit && len(a.packages) == 0 {
		return nil
	}
	if home == "" {
		home = "/nonexistent"
	}
	if !explicit {
		dir = filepath.Join(home, ".ivy2")
	}
	uuid := newUUID()
	resolved := filepath.Join(dir, "cache", "resolved-org.apache.spark-spark-submit-parent-"+uuid+"-1.0.xml")
	if len(a.packages) > 0 {
		fmt.Fprintln(w, ":: loading settings :: url = jar:file:/opt/spark/jars/ivy-2.5.1.jar!/org/apache/ivy/core/settings/ivysettings.xml")
		fmt.Fprintf(w, "Ivy Default Cache set to: %s\n", filepath.Join(dir, "cache"))
		fmt.Fprintf(w, "The jars for the packages stored in: %s\n", filepath.Join(dir, "jars"))
		for _, p := range a.packages {
			m := parseIvyModule(p)
			fmt.Fprintf(w, "%s#%s added as a dependency\n", m.org, m.name)
		}
		fmt.Fprintf(w, ":: resolving dependencies :: org.apache.spark#spark-submit-parent-%s;1.0\n\tconfs: [default]\n", uuid)
	}
	fail := func(err error) error {
		return toolErrorf("Exception in thread \"main\" java.io.FileNotFoundException: %s (%s)", resolved, javaErrText(err))
	}
	if !explicit && home == "/nonexistent" {
		return fail(syscall.ENOENT)
	}
	jarsDir := filepath.Join(dir, "jars")
	for _, d := range []string{filepath.Join(dir, "cache"), jarsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	body := fmt.Sprintf("stand-in spark-submit %s\npackages: %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(a.packages, ","))
	if err := os.WriteFile(resolved, []byte(body), 0o644); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "standin-spark-submit.marker"), []byte(body), 0o644); err != nil {
		return fail(err)
	}
	if len(a.packages) == 0 {
		return nil
	}
	mods, missing := ivyResolve(a.packages)
	for _, m := range mods {
		fmt.Fprintf(w, "\tfound %s in central\n", m)
	}
	if len(missing) > 0 {
		ivyReport(w, mods, len(mods)+len(missing), 0)
		return ivyUnresolved(w, missing, dir, home)
	}
	var fresh []ivyModule
	for _, m := range mods {
		if _, err := os.Stat(filepath.Join(jarsDir, m.jarName())); err == nil {
			continue
		}
		fresh = append(fresh, m)
		fmt.Fprintf(w, "downloading https://repo1.maven.org/maven2/%s.jar ...\n\t[SUCCESSFUL ] %s!%s.jar (%dms)\n", m.mavenPath(), m, m.name, 10)
	}
	ivyReport(w, mods, len(mods), len(fresh))
	for _, m := range fresh {
		if err := writeStandinJar(filepath.Join(jarsDir, m.jarName()), m); err != nil {
			return toolErrorf("Exception in thread \"main\" java.lang.RuntimeException: problem during retrieve of org.apache.spark#spark-submit-parent-%s: java.io.IOException: %s", uuid, javaErrText(err))
		}
	}
	fmt.Fprintf(w, ":: retrieving :: org.apache.spark#spark-submit-parent-%s\n\tconfs: [default]\n\t%d artifacts copied, %d already retrieved (%dkB/%dms)\n",
		uuid, len(fresh), len(mods)-len(fresh), len(fresh), 3*len(fresh))
	return nil
}
