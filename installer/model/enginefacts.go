package model

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// EngineFile records what install found of the engine: what it and the composes on this
// machine accept in the compose file, and the machine it runs on when that is another (whose
// name the stack's addresses then carry). Every later command renders the same file from it (none of them asks the
// machine again), and a backup leaves it out: a restore elsewhere finds out afresh.
const EngineFile = "engine.yaml"

// startInterval is how often the engine checks a cheap healthcheck during its start_period,
// when it can (Inputs.HealthStartInterval): the first check a second after the start, where
// Engine 20.10 waits a whole interval.
const startInterval = "1s"

type engineFacts struct {
	HealthStartInterval bool                  `yaml:"health_start_interval"`
	SwarmJobs           bool                  `yaml:"swarm_jobs,omitempty"`
	RemoteHost          string                `yaml:"remote_host,omitempty"`
	Endpoint            string                `yaml:"endpoint,omitempty"`
	SwarmHome           string                `yaml:"swarm_home,omitempty"`
	SwarmPlaces         map[string]SwarmPlace `yaml:"swarm_places,omitempty"`
}

const engineFileHeader = "# Written by `dataeco install`: what this machine's Docker engine and compose commands accept\n" +
	"# in the compose file. Every dataeco command renders the file with it; install finds out again.\n"

// readEngineFacts fills in what dir's EngineFile says; a missing file says nothing, so an
// install made before it existed renders as it did.
func readEngineFacts(dir string, in *Inputs) error {
	b, err := os.ReadFile(filepath.Join(dir, EngineFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", EngineFile, err)
	}
	var f engineFacts
	if err := yaml.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s in %s is damaged (run `dataeco install` to write it again): %w", EngineFile, dir, err)
	}
	in.HealthStartInterval, in.RemoteHost, in.Endpoint, in.SwarmHome = f.HealthStartInterval, f.RemoteHost, f.Endpoint, f.SwarmHome
	in.SwarmPlaces, in.SwarmJobs = f.SwarmPlaces, f.SwarmJobs
	return nil
}

// WriteEngineFacts records in dir what in says of the engine, for the commands after install.
func WriteEngineFacts(dir string, in Inputs) error {
	b, err := yaml.Marshal(engineFacts{HealthStartInterval: in.HealthStartInterval, RemoteHost: in.RemoteHost, Endpoint: in.Endpoint,
		SwarmHome: in.SwarmHome, SwarmPlaces: in.SwarmPlaces, SwarmJobs: in.SwarmJobs})
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, EngineFile), append([]byte(engineFileHeader), b...), 0o644)
}
