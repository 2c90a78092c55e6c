package model

import (
	"fmt"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// ResetPlan is what resetting components removes: the volumes holding their data, every
// service that mounts one of them, and the components' one-shot jobs, which run again and
// put back what an empty component needs (the topic, the keyspace and its user, Airflow's
// database and admin).
type ResetPlan struct {
	Services []string
	// Volumes are the project's volume keys (kafka-data); EngineVolumes the engine's names
	// for them (dataeco_kafka-data).
	Volumes, EngineVolumes []string
	// Paused are the other services that depend on one of Services, directly or through
	// another (the streaming job on cassandra-init, Schema Registry on the broker): they are
	// stopped before the reset and started again after, once what they depend on is back,
	// instead of failing against a vanished dependency and crash-looping meanwhile.
	Paused []string
}

// PlanReset plans the reset of components in def. Resetting Kafka resets the streaming
// job's checkpoints too: they hold offsets in the topics that go.
func PlanReset(def *Definition, components []string) (ResetPlan, error) {
	comps := slices.Clone(components)
	if slices.Contains(comps, CompKafka) && !slices.Contains(comps, CompSpark) {
		comps = append(comps, CompSpark)
	}
	p := def.Project
	plan := ResetPlan{Volumes: ComponentVolumes(def, comps)}
	for _, name := range p.ServiceNames() {
		row, ok := Lookup(name)
		if ok && row.Job && slices.Contains(components, row.Component) {
			plan.Services = append(plan.Services, name)
			continue
		}
		for _, v := range p.Services[name].Volumes {
			if v.Type == "volume" && slices.Contains(plan.Volumes, v.Source) && !slices.Contains(plan.Services, name) {
				plan.Services = append(plan.Services, name)
			}
		}
	}
	slices.Sort(plan.Services)
	for _, v := range plan.Volumes {
		plan.EngineVolumes = append(plan.EngineVolumes, p.Volumes[v].Name)
	}
	affected, err := p.WithSelectedServices(plan.Services, types.IncludeDependents)
	if err != nil {
		return ResetPlan{}, fmt.Errorf("finding what depends on %v: %w", plan.Services, err)
	}
	for _, name := range affected.ServiceNames() {
		if !slices.Contains(plan.Services, name) {
			plan.Paused = append(plan.Paused, name)
		}
	}
	slices.Sort(plan.Paused)
	return plan, nil
}

// ComponentVolumes are the project's volume keys that the components' services mount,
// sorted: the components' data.
func ComponentVolumes(def *Definition, components []string) []string {
	p := def.Project
	var out []string
	for _, name := range p.ServiceNames() {
		row, ok := Lookup(name)
		if !ok || !slices.Contains(components, row.Component) {
			continue
		}
		for _, v := range p.Services[name].Volumes {
			if v.Type == "volume" && v.Source != "" && !slices.Contains(out, v.Source) {
				out = append(out, v.Source)
			}
		}
	}
	slices.Sort(out)
	return out
}
