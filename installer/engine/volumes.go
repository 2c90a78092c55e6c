package engine

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Volume contents move through the engine's archive API and a container that is created
// but never started, from one of the stack's own images: no other image and no docker CLI
// are needed, and the engine reads and writes the volume where it lives (a VM, a remote
// host) with owners and modes kept.

// volumeMount is where a volume sits in the helper containers. Archives name their entries
// under it, so one extracted at / lands back in the volume.
const volumeMount = "/dataeco-volume"

// helperLabel marks the helper containers, so one left behind by an interruption (its
// create request reached the engine, its answer never came back) can be found and removed.
const helperLabel = "io.dataeco.helper"

// VolumeLabels are the labels Compose gives the project's volume key, so a volume dataeco
// creates is the project's own to Compose (which would otherwise warn and treat it as foreign).
func (s *Stack) VolumeLabels(key string) map[string]string {
	return map[string]string{api.ProjectLabel: s.Project.Name, api.VolumeLabel: key, api.VersionLabel: api.ComposeVersion}
}

// VolumeName is the engine's name of the project's volume key.
func (s *Stack) VolumeName(key string) string { return s.Project.Volumes[key].Name }

// VolumeImages maps each named volume of the project (the engine's name) to the image of a
// service that mounts it.
func (s *Stack) VolumeImages() map[string]string {
	out := map[string]string{}
	for _, name := range s.Project.ServiceNames() {
		svc := s.Project.Services[name]
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				if _, seen := out[s.Project.Volumes[v.Source].Name]; !seen {
					out[s.Project.Volumes[v.Source].Name] = svc.Image
				}
			}
		}
	}
	return out
}

// ServicesMounting lists the project's services that mount any of the volumes (the engine's
// names), in the project's order.
func (s *Stack) ServicesMounting(volumes []string) []string {
	var out []string
	for _, name := range s.Project.ServiceNames() {
		for _, v := range s.Project.Services[name].Volumes {
			if v.Type == types.VolumeTypeVolume && slices.Contains(volumes, s.Project.Volumes[v.Source].Name) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// helper creates (never starts) a container of image with volume mounted, and returns its ID
// and a function that removes it.
func (d *Docker) helper(ctx context.Context, image, volume string, readOnly bool) (string, func(), error) {
	res, err := d.API.ContainerCreate(ctx, client.ContainerCreateOptions{
		// As root, and files written with the owners the archive gives them: the image's
		// own USER (Airflow's 50000) is not who owns every file of every volume, and an image
		// whose USER has no passwd entry makes the engine refuse the copy outright.
		Config:     &container.Config{Image: image, User: "0:0", Entrypoint: []string{"true"}, Labels: map[string]string{helperLabel: "volume"}},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: volume, Target: volumeMount, ReadOnly: readOnly}}},
	})
	if err != nil {
		return "", nil, fmt.Errorf("creating a container to reach volume %s: %w", volume, err)
	}
	remove := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		// With the anonymous volumes the engine made for the image's own VOLUME paths (the
		// stack's images declare theirs), or each backup, restore and reset leaves them behind.
		_, _ = d.API.ContainerRemove(rctx, res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	return res.ID, remove, nil
}

// ReadVolume writes volume's contents to w as a tar archive, through a container of image.
func (d *Docker) ReadVolume(ctx context.Context, volume, image string, w io.Writer) (int64, error) {
	id, remove, err := d.helper(ctx, image, volume, true)
	if err != nil {
		return 0, err
	}
	defer remove()
	res, err := d.API.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: volumeMount})
	if err != nil {
		return 0, fmt.Errorf("reading volume %s: %w", volume, err)
	}
	defer res.Content.Close()
	n, err := io.Copy(w, res.Content)
	if err != nil {
		return n, fmt.Errorf("reading volume %s: %w", volume, err)
	}
	return n, nil
}

// WriteVolume creates volume with labels and extracts the tar archive r, made by
// ReadVolume, into it.
func (d *Docker) WriteVolume(ctx context.Context, volume, image string, labels map[string]string, r io.Reader) error {
	if _, err := d.API.VolumeCreate(ctx, client.VolumeCreateOptions{Name: volume, Labels: labels}); err != nil {
		return fmt.Errorf("creating volume %s: %w", volume, err)
	}
	id, remove, err := d.helper(ctx, image, volume, false)
	if err != nil {
		return err
	}
	defer remove()
	if _, err := d.API.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: r}); err != nil {
		return fmt.Errorf("writing volume %s: %w", volume, err)
	}
	return nil
}

// RemoveVolume deletes a volume, and first any helper container still holding it; one that
// is not there is no error.
func (d *Docker) RemoveVolume(ctx context.Context, volume string) error {
	list, err := d.API.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", helperLabel).Add("volume", volume)})
	if err != nil {
		return fmt.Errorf("listing the containers that hold volume %s: %w", volume, err)
	}
	for _, c := range list.Items {
		if _, err := d.API.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing helper container %s: %w", c.ID[:12], err)
		}
	}
	if _, err := d.API.VolumeRemove(ctx, volume, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing volume %s: %w", volume, err)
	}
	return nil
}

// VolumeExists says whether the engine has the volume.
func (d *Docker) VolumeExists(ctx context.Context, volume string) bool {
	_, err := d.API.VolumeInspect(ctx, volume, client.VolumeInspectOptions{})
	return err == nil
}

// StopServices stops the services and returns a function that starts them again and waits
// until they are ready; it returns that function on failure too, as some may have stopped.
func (s *Stack) StopServices(ctx context.Context, services []string, timeout func(string) time.Duration) (func(context.Context) error, error) {
	p, err := s.Project.WithSelectedServices(services, types.IgnoreDependencies)
	if err != nil {
		return nil, err
	}
	resume := func(ctx context.Context) error {
		if err := s.svc.Start(ctx, p.Name, api.StartOptions{Project: p, Services: services}); err != nil {
			return fmt.Errorf("starting %v again: %w", services, err)
		}
		done := make(chan error, 1)
		done <- nil
		w := newWaiter(s.Docker, p, s.ui, timeout)
		w.watchEvents(ctx)
		return w.wait(ctx, done)
	}
	if err := s.svc.Stop(ctx, p.Name, api.StopOptions{Project: p, Services: services}); err != nil {
		if ctx.Err() != nil {
			// The engine goes on stopping what it was asked to after the request is
			// cancelled: finish the stop, so that resume starts them all and none stops
			// later behind its back.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			_ = s.svc.Stop(sctx, p.Name, api.StopOptions{Project: p, Services: services})
		}
		return resume, fmt.Errorf("stopping %v: %w", services, err)
	}
	return resume, nil
}

// RunningServices lists the services among names whose container runs.
func (s *Stack) RunningServices(ctx context.Context, names []string) ([]string, error) {
	list, err := s.Docker.Containers(ctx, s.Project.Name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range list {
		if svc, own := ServiceOf(c); own && c.State == "running" && slices.Contains(names, svc) {
			out = append(out, svc)
		}
	}
	return out, nil
}
