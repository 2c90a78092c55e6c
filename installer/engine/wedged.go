package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/dataeco/dataeco/checks"
	"github.com/moby/moby/client"
)

// NOTE: Docker Engine 20.10 killed in the middle of starting a container (runc has created
// it, the engine has not yet recorded it as running) comes back with the container stopped
// but containerd still holding it. Every later start of that container fails with
// "task <id>: already exists" or "id already in use" (see checks.EngineWedged), across engine
// restarts too, so a re-run of install would never converge. The engine records that error on
// the container: such a container has to be created again. Worse, the old one's process lives
// on, created and never started, in a network namespace still plugged into the project's
// bridge with its address; the engine hands that address to another container, and the bridge
// delivers its packets to either (seen as "connection refused" between healthy services). Only
// a new network leaves that plug behind, and a network goes only with every container on it:
// so install takes the whole project down, data volumes kept, and up again.

// wedgedServices lists the services whose container's last start failed that way.
func (s *Stack) wedgedServices(ctx context.Context) ([]string, error) {
	list, err := s.Docker.Containers(ctx, s.Project.Name)
	if err != nil {
		return nil, err
	}
	var services []string
	for _, c := range list {
		service, _ := ServiceOf(c)
		ins, err := s.Docker.API.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, err
		}
		if st := ins.Container.State; st != nil && !st.Running && checks.EngineWedged(st.Error) {
			services = append(services, service)
		}
	}
	slices.Sort(services)
	return services, nil
}

// failedForWedged tells whether err is what a wedged container of one of services gives: the
// engine's refusal to start it, or that service failing on it.
func failedForWedged(err error, services []string) bool {
	var f *ServiceFailure
	if errors.As(err, &f) {
		return slices.Contains(services, f.Service)
	}
	return checks.EngineWedged(err.Error()) // the engine's refusal as Compose passed it on
}
