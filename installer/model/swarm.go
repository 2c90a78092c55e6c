package model

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/installer/hint"
	"gopkg.in/yaml.v3"
)

// A swarm install runs the same rendered stack, written as a stack file for Docker Swarm: the
// docker CLI's own stack code (compose loader and converter) turns it into swarm services,
// as `docker stack deploy` would. What changes from the compose file, and why:
//   - a replicated row (the Spark workers) is one service with N replicas, spread over the
//     nodes, each task named by its slot;
//   - a service that keeps data or publishes ports is pinned to the home node, the manager
//     dataeco talks to: its volumes stay where backup and uninstall reach them, and its ports
//     are on the address the summary and the smoke checks use; a cluster's members after the
//     first (broker-2 …) are each pinned to a node of their own (Inputs.SwarmPlaces), whose
//     address they advertise;
//   - ports are published in host mode and names resolve by DNS round robin (dnsrr): the
//     routing mesh and virtual IPs need IPVS, which many kernels (WSL2's, some VMs') lack,
//     and Kafka clients must reach the broker itself, not any node;
//   - a port kept on 127.0.0.1 (the Spark UI unless --expose names it) is not published: a
//     swarm cannot publish on loopback only;
//   - files the compose file mounts from the install dir become swarm configs (a node other
//     than the manager has no such directory), named by their content so a change deploys;
//   - memory and CPU limits become the deploy section's, and the start order (which swarm
//     ignores) is kept by dataeco, which creates each service when what it depends on is
//     ready (SwarmDeps);
//   - a one-shot job is a swarm job (replicated-job) of one run, which swarm restarts only
//     on failure, labelled SwarmJobLabel, on an engine whose manager removes a job's tasks,
//     and their containers on the nodes, with its service (Inputs.SwarmJobs: Engine 24 and
//     later). Before that (moby/moby#44312, fixed by moby/swarmkit#3112) they stayed behind
//     after an uninstall, so there a job is a service of one replica with the same restart
//     policy and label. Either way it runs again when its definition changes, and not on a
//     deploy that changes nothing.

// SwarmStackVersion is the stack file format written: the docker CLI's loader validates the
// file against its schema.
const SwarmStackVersion = "3.9"

// SwarmJobLabel marks a swarm service that runs once (see above).
const SwarmJobLabel = "io.dataeco.job"

// SwarmDep is one start condition of a swarm service: another service ready (healthy when it
// has a check, running otherwise) or, for a job, completed.
type SwarmDep struct {
	Service   string
	Completed bool
}

// SwarmService is the name a compose service has in the swarm: a replicated row's instances
// are one service.
func SwarmService(name string) string {
	if s, ok := Lookup(name); ok && s.Replicated {
		return s.Name
	}
	return name
}

// SwarmDeps are the start conditions of each swarm service, from the compose file's
// depends_on.
func SwarmDeps(p *types.Project) map[string][]SwarmDep {
	out := map[string][]SwarmDep{}
	for _, name := range p.ServiceNames() {
		svc := SwarmService(name)
		if _, ok := out[svc]; !ok {
			out[svc] = nil
		}
		for _, dep := range slices.Sorted(maps.Keys(p.Services[name].DependsOn)) {
			d := SwarmDep{Service: SwarmService(dep), Completed: p.Services[name].DependsOn[dep].Condition == types.ServiceConditionCompletedSuccessfully}
			if !slices.Contains(out[svc], d) {
				out[svc] = append(out[svc], d)
			}
		}
	}
	return out
}

// SwarmFile writes the project as a stack file for the swarm (see above). in names the node
// that keeps the data and publishes the ports (SwarmHome) and those of the clusters' other
// members (SwarmPlaces); builds are the images dataeco builds, which the nodes pull from the
// registry under RegistryTag.
func SwarmFile(p *types.Project, a *Answers, in Inputs, builds []Build) ([]byte, error) {
	services := map[string]any{}
	configs := map[string]any{}
	for _, name := range p.ServiceNames() {
		svc := SwarmService(name)
		if _, done := services[svc]; done {
			continue
		}
		node := in.SwarmHome
		if row, ok := Lookup(name); ok && row.Members != nil && name != row.Name {
			place, ok := in.SwarmPlaces[name]
			if !ok || place.Node == "" {
				return nil, fmt.Errorf("%s in the install dir names no node for %s: run `dataeco install` again to choose one", EngineFile, name)
			}
			node = place.Node
		}
		s, err := swarmService(p.Services[name], svc, a, node, in.SwarmJobs, builds, configs)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		services[svc] = s
	}
	network := map[string]any{"driver": "overlay"}
	if a.Subnet != "" {
		network["ipam"] = map[string]any{"config": []any{map[string]any{"subnet": a.Subnet}}}
	}
	volumes := map[string]any{}
	for _, v := range slices.Sorted(maps.Keys(p.Volumes)) {
		volumes[v] = map[string]any{}
	}
	file := map[string]any{
		"version":  SwarmStackVersion,
		"services": services,
		"networks": map[string]any{"default": network},
		"volumes":  volumes,
	}
	if len(configs) > 0 {
		file["configs"] = configs
	}
	return yaml.Marshal(file)
}

// RegistryTag is where the nodes of a swarm pull an image dataeco builds: the local tag under
// the install's registry.
func RegistryTag(a *Answers, tag string) string { return RewriteImage(a.Registry, tag) }

func swarmService(c types.ServiceConfig, name string, a *Answers, home string, jobs bool, builds []Build, configs map[string]any) (map[string]any, error) {
	row, _ := Lookup(name)
	out := swarmContainer(c, row, name, a, builds)
	// Where its data is kept or its ports are published, it must stay: on the home node.
	pinned, err := swarmMounts(c, out, configs)
	if err != nil {
		return nil, err
	}
	if pinned, err = swarmPorts(c, out, pinned); err != nil {
		return nil, err
	}
	out["deploy"] = swarmDeploy(c, row, a, home, jobs, pinned)
	return out, nil
}

// swarmContainer is what the service's containers run, as in the compose file.
func swarmContainer(c types.ServiceConfig, row Service, name string, a *Answers, builds []Build) map[string]any {
	image := c.Image
	for _, b := range builds {
		if b.Tag == image {
			image = RegistryTag(a, b.Tag)
		}
	}
	out := map[string]any{"image": image}
	if c.Hostname != "" {
		out["hostname"] = c.Hostname
	}
	if row.Replicated {
		// Swarm fills in the task's slot: spark-worker-1, -2, …
		out["hostname"] = name + "-{{.Task.Slot}}"
	}
	if len(c.Entrypoint) > 0 {
		out["entrypoint"] = []string(c.Entrypoint)
	}
	if len(c.Command) > 0 {
		out["command"] = []string(c.Command)
	}
	if c.User != "" {
		out["user"] = c.User
	}
	if len(c.Environment) > 0 {
		env := map[string]string{}
		for k, v := range c.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		out["environment"] = env
	}
	if len(c.Tmpfs) > 0 {
		out["tmpfs"] = []string(c.Tmpfs)
	}
	if len(c.Labels) > 0 {
		out["labels"] = maps.Clone(map[string]string(c.Labels))
	}
	if hc := c.HealthCheck; hc != nil && !hc.Disable {
		check := map[string]any{"test": []string(hc.Test)}
		for key, d := range map[string]*types.Duration{"interval": hc.Interval, "timeout": hc.Timeout, "start_period": hc.StartPeriod} {
			if d != nil {
				check[key] = time.Duration(*d).String()
			}
		}
		if hc.Retries != nil {
			check["retries"] = *hc.Retries
		}
		out["healthcheck"] = check
	}
	return out
}

// swarmMounts adds the service's named volumes, and its files from the install dir as
// configs; it says whether the service keeps data.
func swarmMounts(c types.ServiceConfig, out, configs map[string]any) (bool, error) {
	var volumes, refs []any
	for _, v := range c.Volumes {
		switch v.Type {
		case types.VolumeTypeVolume:
			volumes = append(volumes, map[string]any{"type": "volume", "source": v.Source, "target": v.Target, "read_only": v.ReadOnly})
		case types.VolumeTypeBind:
			r, err := bindConfigs(v, configs)
			if err != nil {
				return false, err
			}
			refs = append(refs, r...)
		default:
			return false, fmt.Errorf("a %s mount (%s) has no swarm form here", v.Type, v.Target)
		}
	}
	if len(volumes) > 0 {
		out["volumes"] = volumes
	}
	if len(refs) > 0 {
		out["configs"] = refs
	}
	return len(volumes) > 0, nil
}

// swarmPorts publishes the service's ports in host mode, but those kept on loopback.
func swarmPorts(c types.ServiceConfig, out map[string]any, pinned bool) (bool, error) {
	var ports []any
	for _, pc := range c.Ports {
		if pc.Published == "" {
			continue
		}
		if ip := net.ParseIP(pc.HostIP); ip != nil && ip.IsLoopback() {
			continue // kept on this machine's loopback: a swarm cannot publish it so
		}
		var published int
		if _, err := fmt.Sscan(pc.Published, &published); err != nil {
			return false, fmt.Errorf("published port %q: %w", pc.Published, err)
		}
		ports = append(ports, map[string]any{"target": pc.Target, "published": published, "protocol": "tcp", "mode": "host"})
	}
	if len(ports) > 0 {
		out["ports"] = ports
	}
	return pinned || len(ports) > 0, nil
}

// swarmDeploy is how swarm runs the service: mode, replicas, limits, restarts and placement;
// jobs says whether a one-shot job is a swarm job.
func swarmDeploy(c types.ServiceConfig, row Service, a *Answers, home string, jobs, pinned bool) map[string]any {
	labels := maps.Clone(map[string]string(c.Labels))
	if labels == nil {
		labels = map[string]string{}
	}
	deploy := map[string]any{"endpoint_mode": "dnsrr", "labels": labels}
	limits := map[string]any{}
	if c.MemLimit > 0 {
		limits["memory"] = fmt.Sprintf("%dM", int64(c.MemLimit)>>20)
	}
	if c.CPUS > 0 {
		limits["cpus"] = fmt.Sprint(c.CPUS)
	}
	if len(limits) > 0 {
		deploy["resources"] = map[string]any{"limits": limits}
	}
	restart := map[string]any{"condition": "any", "delay": "2s"}
	deploy["replicas"] = 1
	switch {
	case row.Job:
		restart = map[string]any{"condition": "on-failure", "delay": "2s", "max_attempts": 3}
		labels[SwarmJobLabel] = "true"
		if jobs {
			deploy["mode"] = "replicated-job" // replicas: one run to complete
		}
	case row.Replicated:
		deploy["replicas"] = a.SparkWorkers
	}
	deploy["restart_policy"] = restart
	if pinned {
		deploy["placement"] = map[string]any{"constraints": []string{"node.id == " + home}}
	} else {
		deploy["placement"] = map[string]any{"preferences": []any{map[string]any{"spread": "node.id"}}}
	}
	return deploy
}

// bindConfigs turns a mount of a file or directory from the install dir into swarm configs,
// one per file (a config is one file), each named by its path and content.
func bindConfigs(v types.ServiceVolumeConfig, configs map[string]any) ([]any, error) {
	st, err := os.Stat(v.Source)
	if err != nil {
		return nil, fmt.Errorf("a file the stack mounts: %w", err)
	}
	files := map[string]string{} // target path -> source file
	if !st.IsDir() {
		files[v.Target] = v.Source
	} else {
		err := filepath.WalkDir(v.Source, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			rel, err := filepath.Rel(v.Source, p)
			if err == nil {
				files[path.Join(v.Target, filepath.ToSlash(rel))] = p
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s for the swarm: %w", v.Source, err)
		}
	}
	var refs []any
	for _, target := range slices.Sorted(maps.Keys(files)) {
		b, err := os.ReadFile(files[target])
		if err != nil {
			return nil, err
		}
		// Config names allow letters, digits, - _ and .; a config cannot change, so a new
		// content is a new name.
		slug := strings.Trim(strings.NewReplacer("/", "-", " ", "-").Replace(target), "-")
		key := fmt.Sprintf("%s-%x", slug[max(0, len(slug)-32):], sha256.Sum256(b))
		key = key[:len(key)-64+12]
		configs[key] = map[string]any{"file": files[target]}
		refs = append(refs, map[string]any{"source": key, "target": target, "mode": 0o444})
	}
	return refs, nil
}

// SwarmNode is what placing a cluster's members needs to know of a swarm node.
type SwarmNode struct {
	ID, Hostname string
	// Addr is the node's address in the swarm, which a member pinned there advertises.
	Addr string
	// Usable: ready and active, so swarm may start a task there now.
	Usable bool
}

// PlaceMembers pins each member of a cluster row after the first to a node of its own, other
// than the home node (the first member's): the members already placed stay where their
// volumes are, and the new ones take the usable nodes no member of the row holds yet, in host
// name order. Members beyond the answers keep their place (a later install may want them
// back with their data); it fails, naming the figure to lower, when nodes are too few.
func PlaceMembers(a *Answers, in *Inputs, nodes []SwarmNode) error {
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(x, y SwarmNode) int { return strings.Compare(x.Hostname+x.ID, y.Hostname+y.ID) })
	for _, row := range Catalogue() {
		if row.Members == nil || !row.On(a) {
			continue
		}
		names := row.Instances(a)
		taken := map[string]bool{in.SwarmHome: true}
		for name, p := range in.SwarmPlaces {
			if r, ok := Lookup(name); ok && r.Name == row.Name {
				taken[p.Node] = true
			}
		}
		for _, name := range names[1:] {
			if _, ok := in.SwarmPlaces[name]; ok {
				continue
			}
			i := slices.IndexFunc(sorted, func(n SwarmNode) bool { return n.Usable && !taken[n.ID] })
			if i < 0 {
				usable := 0
				for _, n := range nodes {
					if n.Usable {
						usable++
					}
				}
				return hint.New(fmt.Sprintf("add nodes to the swarm (`docker swarm join` on them), or ask for fewer: --%s %d", row.MembersFlag, usable),
					fmt.Errorf("%d %s members need %d swarm nodes, one each, and this swarm has %d ready and active", len(names), row.Name, len(names), usable))
			}
			if in.SwarmPlaces == nil {
				in.SwarmPlaces = map[string]SwarmPlace{}
			}
			in.SwarmPlaces[name] = SwarmPlace{Node: sorted[i].ID, Addr: sorted[i].Addr}
			taken[sorted[i].ID] = true
		}
	}
	return nil
}

// MemberVolume is the data volume of a cluster's member: the row's for the first (broker:
// kafka-data), with the member's number for the others (broker-2: kafka-data-2).
func MemberVolume(member string) string {
	row, _ := Lookup(member)
	if n, ok := strings.CutPrefix(member, row.Name+"-"); ok {
		return row.Volume + "-" + n
	}
	return row.Volume
}

// SwarmVolumes are the volumes of the members pinned to one node other than the home one,
// and an image that ran there to reach that node's engine with.
type SwarmVolumes struct {
	Image   string
	Volumes []string
}

// VolumesElsewhere are the volumes on the nodes other than the home one, by node: those of
// every member ever placed there (Inputs.SwarmPlaces), in the answers or not any more, for
// uninstall --purge reaches them through their node.
func VolumesElsewhere(a *Answers, in Inputs) map[string]*SwarmVolumes {
	out := map[string]*SwarmVolumes{}
	for _, name := range slices.Sorted(maps.Keys(in.SwarmPlaces)) {
		row, ok := Lookup(name)
		node := in.SwarmPlaces[name].Node
		if !ok || row.Volume == "" || node == "" || node == in.SwarmHome {
			continue
		}
		if out[node] == nil {
			out[node] = &SwarmVolumes{Image: a.ImageOf(row.Image)}
		}
		out[node].Volumes = append(out[node].Volumes, MemberVolume(name))
	}
	return out
}

// KafkaAddrs are the host:port each broker's host listener is reached at: home (the address
// the install advertises) for the first, the address of its node for each other broker.
func KafkaAddrs(a *Answers, in Inputs, home string) []string {
	row, _ := Lookup("broker")
	port := strconv.Itoa(a.Ports["kafka"])
	addrs := []string{net.JoinHostPort(strings.Trim(home, "[]"), port)}
	for _, name := range row.Instances(a)[1:] {
		addrs = append(addrs, net.JoinHostPort(in.SwarmPlaces[name].Addr, port))
	}
	return addrs
}
