package engine

import (
	"context"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/compose"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Containers lists the containers of a Compose project, stopped ones included: everything
// dataeco inspects finds the stack's containers through this one call.
func (d *Docker) Containers(ctx context.Context, project string) ([]container.Summary, error) {
	list, err := d.API.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+project)})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// ServiceOf is the Compose service a container belongs to, and whether it is one of the
// stack's own (not a one-off `run` container).
func ServiceOf(c container.Summary) (string, bool) {
	return c.Labels[api.ServiceLabel], c.Labels[api.OneoffLabel] != "True"
}

// ConfigHash is Compose's hash of a service's definition: a container whose label differs
// was made from another definition.
func ConfigHash(c container.Summary) string { return c.Labels[api.ConfigHashLabel] }

// DefinitionHash is the hash Compose labels a service's container with when it creates it
// from this definition.
func DefinitionHash(s types.ServiceConfig) string {
	h, _ := compose.ServiceHash(s)
	return h
}

// ProjectInUse says whether the engine holds containers or volumes of a Compose project, and
// the install dir its containers were started from when it knows one.
func (d *Docker) ProjectInUse(ctx context.Context, project string) (dir string, inUse bool, err error) {
	list, err := d.Containers(ctx, project)
	if err != nil {
		return "", false, err
	}
	for _, c := range list {
		if wd := c.Labels[api.WorkingDirLabel]; wd != "" {
			return wd, true, nil
		}
	}
	if len(list) > 0 {
		return "", true, nil
	}
	vols, err := d.API.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+project)})
	if err != nil {
		return "", false, err
	}
	return "", len(vols.Items) > 0, nil
}
