package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// The volumes of a cluster's members (broker-2 …) are on the nodes they are pinned to, whose
// engines dataeco does not reach: the swarm API removes services, networks and configs on
// every node, but a volume only through its own node's engine. So uninstall --purge runs a
// one-off service on each such node that asks that node's engine, through its socket, to
// remove them. It runs an image a member ran there (on the node already): Confluent's have
// curl, Cassandra's python3 (purgeFunc).

// nodeSocket is where a node's engine listens, as a container on it mounts it: the default
// of every Linux engine, Docker Desktop's VM included. A rootless engine's socket is
// elsewhere; its purge task then fails, and the error names the volumes to remove by hand.
const nodeSocket = "/var/run/docker.sock"

// purgeFunc defines remove_volume NAME for the purge task's shell: an API call through the
// node engine's socket with curl (Confluent's images) or else Python (Cassandra's image has
// python3 for cqlsh, and no curl). force: a volume already gone is no error.
const purgeFunc = `if command -v curl >/dev/null 2>&1; then
  remove_volume() { curl -fsS --unix-socket ` + nodeSocket + ` -X DELETE "http://localhost/volumes/$1?force=true"; }
else
  remove_volume() {
    python3 - "$1" <<'EOF'
import http.client, socket, sys
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect("` + nodeSocket + `")
c = Conn("localhost")
c.request("DELETE", "/volumes/" + sys.argv[1] + "?force=true")
r = c.getresponse()
sys.exit(0 if r.status < 300 else "removing volume %s: %d %s" % (sys.argv[1], r.status, r.read().decode()))
EOF
  }
fi
`

// NodeVolumes are the stack's volumes on one node (unscoped: kafka-data-2), and an image that
// ran there to reach its engine with.
type NodeVolumes struct {
	Image   string
	Volumes []string
}

// purgeElsewhere removes the stack's volumes on other nodes than this engine's (see above),
// by node.
func (s *Swarm) purgeElsewhere(ctx context.Context, byNode map[string]NodeVolumes) error {
	var errs []error
	names, _ := s.nodeNames(ctx)
	for _, node := range slices.Sorted(maps.Keys(byNode)) {
		name := names[node]
		if name == "" {
			name = node
		}
		nv := NodeVolumes{Image: byNode[node].Image}
		for _, v := range byNode[node].Volumes {
			nv.Volumes = append(nv.Volumes, s.Namespace.Scope(v))
		}
		if err := s.purgeNode(ctx, node, name, nv); err != nil {
			errs = append(errs, hint.New(fmt.Sprintf("on that node: docker volume rm %s", strings.Join(nv.Volumes, " ")), err))
		}
	}
	return errors.Join(errs...)
}

// purgeNode removes nv's volumes on node, which name says in messages.
func (s *Swarm) purgeNode(ctx context.Context, node, name string, nv NodeVolumes) error {
	api := s.Docker.API
	script := "set -e\n" + purgeFunc
	for _, v := range nv.Volumes {
		script += fmt.Sprintf("remove_volume %s\necho removed volume %s\n", v, v)
	}
	one, delay, attempts := uint64(1), 2*time.Second, uint64(10)
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: s.Namespace.Scope("purge-" + node[:min(12, len(node))]),
			Labels: map[string]string{convert.LabelNamespace: s.Namespace.Name()}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: nv.Image, Command: []string{"sh", "-c", script}, User: "0",
				Labels: map[string]string{convert.LabelNamespace: s.Namespace.Name()},
				Mounts: []mount.Mount{{Type: mount.TypeBind, Source: nodeSocket, Target: nodeSocket}}},
			Placement: &swarm.Placement{Constraints: []string{"node.id == " + node}},
			// A task container that the node has not removed yet still holds the volume: try
			// again a little later.
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, Delay: &delay, MaxAttempts: &attempts},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
	}
	auth, err := command.RetrieveAuthTokenFromImage(s.Docker.Cli.ConfigFile(), nv.Image)
	if err != nil {
		return err
	}
	res, err := api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec, EncodedRegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("starting the removal of %s on node %s: %w", strings.Join(nv.Volumes, ", "), name, err)
	}
	defer func() {
		if _, err := api.ServiceRemove(context.WithoutCancel(ctx), res.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			s.ui.Line(fmt.Sprintf("removing the clean-up service %s: %v", spec.Name, err))
		}
	}()
	s.ui.Line(fmt.Sprintf("removing %s on node %s", strings.Join(nv.Volumes, ", "), name))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		tasks, err := api.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", res.ID)})
		if err != nil {
			return err
		}
		failed, last := 0, ""
		for _, t := range tasks.Items {
			switch t.Status.State {
			case swarm.TaskStateComplete:
				return nil
			case swarm.TaskStateFailed, swarm.TaskStateRejected:
				failed++
				last = t.Status.Err
			}
		}
		if failed > int(attempts) || (failed > 0 && time.Now().After(deadline)) {
			return fmt.Errorf("removing %s on node %s failed %d times: %s", strings.Join(nv.Volumes, ", "), name, failed, last)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("removing %s on node %s: no result within 3 minutes (is the node down? `docker node ls`)", strings.Join(nv.Volumes, ", "), name)
		}
		if err := sleep(ctx, s.poll); err != nil {
			return err
		}
	}
}
