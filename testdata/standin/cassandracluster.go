package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A cluster of stand-in Cassandra nodes. Real nodes find each other through the seeds
// (CASSANDRA_SEEDS, written into cassandra.yaml by the image's entrypoint) and gossip on the
// storage port, 7000. Here the seed keeps the ring: a node that is not a seed joins it over
// the storage port in a session (lines of a protocol only stand-ins speak), bootstraps for a
// moment (UJ) and is then up (UN); when its session ends it is down (DN) and stays in the
// ring, as a real node does until `nodetool removenode`. A node with another cluster name is
// refused, and so is a new node while another one is still joining, with Cassandra's words:
// nodes join one at a time. A node that has joined once (its host ID is in its data dir)
// comes back without bootstrapping.
//
// The data (roles, schema) lives in the seed: every other node relays its CQL connections
// there, so any node answers the same. The ring shows in system.peers and `nodetool status`.

const ringSessionTimeout = 6 * time.Second

// ringNode is one node as the ring knows it.
type ringNode struct {
	HostID  string `json:"host_id"`
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	Cluster string `json:"cluster"`
	State   string `json:"state,omitempty"` // UN, UJ or DN
}

// cassandraRing is the seed's view of the cluster.
type cassandraRing struct {
	mu    sync.Mutex
	self  ringNode
	nodes map[string]*ringNode // by host ID, the seed not included
}

func newCassandraRing(self ringNode) *cassandraRing {
	self.State = "UN"
	return &cassandraRing{self: self, nodes: map[string]*ringNode{}}
}

// list is every node, the seed first, then by address.
func (r *cassandraRing) list() []ringNode {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ringNode
	for _, n := range r.nodes {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return append([]ringNode{r.self}, out...)
}

// join admits n, or says why not in Cassandra's words.
func (r *cassandraRing) join(n ringNode) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n.Cluster != r.self.Cluster {
		return "", fmt.Errorf("ClusterName mismatch from %s %s!=%s", n.Addr, n.Cluster, r.self.Cluster)
	}
	if known, ok := r.nodes[n.HostID]; ok {
		known.Addr, known.Name, known.State = n.Addr, n.Name, "UN"
		return "UN", nil
	}
	for _, o := range r.nodes {
		if o.State == "UJ" {
			return "", fmt.Errorf("Other bootstrapping/leaving/moving nodes detected, cannot bootstrap while cassandra.consistent.rangemovement is true")
		}
	}
	n.State = "UJ"
	r.nodes[n.HostID] = &n
	return "UJ", nil
}

func (r *cassandraRing) setState(id, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.nodes[id]; ok {
		n.State = state
	}
}

// serveJoin holds one node's gossip session.
func (r *cassandraRing) serveJoin(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := br.ReadString('\n')
	js, ok := strings.CutPrefix(line, "join ")
	var n ringNode
	if err != nil || !ok || json.Unmarshal([]byte(js), &n) != nil || n.HostID == "" {
		return
	}
	state, err := r.join(n)
	if err != nil {
		logf("refused %s (%s): %v", n.Name, n.Addr, err)
		fmt.Fprintf(c, "refused %s\n", err)
		return
	}
	logf("Node /%s (%s, host ID %s) is now part of the cluster as %s", n.Addr, n.Name, n.HostID, state)
	fmt.Fprintf(c, "ok %s\n", state)
	for {
		c.SetReadDeadline(time.Now().Add(ringSessionTimeout))
		line, err := br.ReadString('\n')
		if err != nil {
			r.setState(n.HostID, "DN")
			logf("InetAddress /%s (%s) is now DOWN", n.Addr, n.Name)
			return
		}
		if strings.TrimSpace(line) == "up" {
			r.setState(n.HostID, "UN")
			logf("Node /%s (%s) state jump to NORMAL", n.Addr, n.Name)
		}
	}
}

// cassandraSeeds are the hosts of CASSANDRA_SEEDS; none: this node is its own seed.
func cassandraSeeds() []string {
	var out []string
	for _, s := range strings.Split(os.Getenv("CASSANDRA_SEEDS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			if h, _, err := net.SplitHostPort(s); err == nil {
				s = h
			}
			out = append(out, s)
		}
	}
	return out
}

// isSeed says whether this node is one of seeds: by host name, or by an address of its own.
func isSeed(seeds []string) bool {
	if len(seeds) == 0 {
		return true
	}
	host, _ := os.Hostname()
	mine := map[string]bool{host: true}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				mine[ipn.IP.String()] = true
			}
		}
	}
	for _, s := range seeds {
		if mine[s] {
			return true
		}
		if ips, err := net.LookupHost(s); err == nil {
			for _, ip := range ips {
				if mine[ip] {
					return true
				}
			}
		}
	}
	return false
}

// hostID is this node's, from its data dir, made at the first start; fresh says it was.
func hostID(dataDir string) (id string, fresh bool) {
	path := filepath.Join(dataDir, "standin-host-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), false
	}
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	id = h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:]
	if dataDir != "" {
		os.MkdirAll(dataDir, 0o755)
		if err := os.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
			logf("cannot keep the host ID in %s: %v", path, err)
		}
	}
	return id, true
}

// joinCluster joins the ring of the first seed that answers, and keeps the session: when it
// is lost (the seed restarted), it joins again. It returns once this node is up, or with why
// it cannot join.
func joinCluster(ctx context.Context, seeds []string, port int, self ringNode, fresh bool) error {
	var c net.Conn
	var reader *bufio.Reader
	dial := func() error {
		deadline := time.Now().Add(60 * time.Second)
		for {
			for _, s := range seeds {
				conn, err := net.DialTimeout("tcp", net.JoinHostPort(s, strconv.Itoa(port)), 3*time.Second)
				if err != nil {
					continue
				}
				b, _ := json.Marshal(self)
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(conn, "join %s\n", b)
				br := bufio.NewReader(conn)
				reply, err := br.ReadString('\n')
				if err != nil {
					conn.Close()
					continue
				}
				if msg, refused := strings.CutPrefix(strings.TrimSpace(reply), "refused "); refused {
					conn.Close()
					return exitWith(1, "Exception encountered during startup: java.lang.UnsupportedOperationException: %s", msg)
				}
				conn.SetDeadline(time.Time{})
				c, reader = conn, br
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return exitWith(1, "Exception encountered during startup: java.lang.RuntimeException: Unable to gossip with any peers")
			}
			time.Sleep(time.Second)
		}
	}
	if err := dial(); err != nil {
		return err
	}
	if fresh {
		logf("JOINING: Starting to bootstrap...")
		time.Sleep(2 * time.Second) // streaming its ranges, in a real node
	}
	fmt.Fprintf(c, "up\n")
	logf("Node %s state jump to NORMAL", self.Addr)
	go func() {
		go io.Copy(io.Discard, reader)
		for {
			select {
			case <-ctx.Done():
				c.Close()
				return
			case <-time.After(ringSessionTimeout / 4):
			}
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if _, err := fmt.Fprintf(c, "ping\n"); err == nil {
				continue
			}
			c.Close()
			logf("lost the gossip session with the seed; joining again")
			for ctx.Err() == nil {
				if err := dial(); err == nil {
					fmt.Fprintf(c, "up\n")
					go io.Copy(io.Discard, reader)
					break
				}
				time.Sleep(time.Second)
			}
		}
	}()
	return nil
}

// relayCQL passes a client's CQL connection to the seed, which holds the data.
func relayCQL(c net.Conn, seeds []string, port int) {
	defer c.Close()
	for _, s := range seeds {
		up, err := net.DialTimeout("tcp", net.JoinHostPort(s, strconv.Itoa(port)), 5*time.Second)
		if err != nil {
			continue
		}
		defer up.Close()
		go io.Copy(up, c)
		io.Copy(c, up)
		return
	}
	logf("no seed answers on %d for %s", port, c.RemoteAddr())
}
