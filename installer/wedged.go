package installer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/dataeco/dataeco/checks"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
)

// NOTE: Docker Engine 20.10 killed in the middle of starting a container (runc has created
// it, the engine has not yet recorded it as running) comes back with the container stopped
// but its containerd task still there. Every later start of that container fails with
// "task <id>: already exists", across engine restarts too, so a re-run of install would never
// converge. The engine records that error on the container: such a container is removed and
// Compose creates it again. Its data is in named volumes, which stay.

// removeWedged removes the project's containers whose last start failed that way and returns
// their services.
func (s *Stack) removeWedged(ctx context.Context, project string) ([]string, error) {
	list, err := s.Docker.API.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+project)})
	if err != nil {
		return nil, err
	}
	var services []string
	for _, c := range list.Items {
		ins, err := s.Docker.API.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, err
		}
		st := ins.Container.State
		if st == nil || st.Running || !checks.EngineWedged(st.Error) {
			continue
		}
		// Anonymous volumes go with it, as in Down: they hold nothing of the user's.
		if _, err := s.Docker.API.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return services, fmt.Errorf("removing the container of %s: %w", c.Labels[api.ServiceLabel], err)
		}
		services = append(services, c.Labels[api.ServiceLabel])
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
	return strings.Contains(err.Error(), "already exists")
}
