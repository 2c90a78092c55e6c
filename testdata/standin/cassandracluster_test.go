package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// startTestRing runs a seed's storage port in-process and returns its port.
func startTestRing(t *testing.T) (*cassandraRing, int) {
	t.Helper()
	ring := newCassandraRing(ringNode{HostID: "seed", Name: "cassandra", Addr: "10.0.0.1", Cluster: "dataeco"})
	return ring, serveLoopback(t, ring.serveJoin).Addr().(*net.TCPAddr).Port
}

func ringStates(r *cassandraRing) string {
	var out []string
	for _, n := range r.list() {
		out = append(out, n.Name+"="+n.State)
	}
	return strings.Join(out, " ")
}

func waitRing(t *testing.T, r *cassandraRing, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ringStates(r) != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("ring %q, want %q", ringStates(r), want)
		}
	}
}

// Nodes join the seed's ring one at a time, a node of another cluster is refused, a node
// whose session ends is down and comes back up without bootstrapping.
func TestCassandraRing(t *testing.T) {
	ring, port := startTestRing(t)
	seeds := []string{"127.0.0.1"}
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	joined := make(chan error, 1)
	go func() {
		joined <- joinCluster(ctx2, seeds, port, ringNode{HostID: "h2", Name: "cassandra-2", Addr: "10.0.0.2", Cluster: "dataeco"}, true)
	}()
	waitRing(t, ring, "cassandra=UN cassandra-2=UJ")
	// While cassandra-2 bootstraps, a new node may not.
	err := joinCluster(context.Background(), seeds, port, ringNode{HostID: "h3", Name: "cassandra-3", Addr: "10.0.0.3", Cluster: "dataeco"}, true)
	if err == nil || !strings.Contains(err.Error(), "Other bootstrapping/leaving/moving nodes detected") {
		t.Fatalf("a second node bootstrapping at once: %v", err)
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	waitRing(t, ring, "cassandra=UN cassandra-2=UN")
	err = joinCluster(context.Background(), seeds, port, ringNode{HostID: "h4", Name: "other", Addr: "10.0.0.4", Cluster: "another"}, true)
	if err == nil || !strings.Contains(err.Error(), "ClusterName mismatch") {
		t.Fatalf("a node of another cluster: %v", err)
	}
	ctx3, stop3 := context.WithCancel(context.Background())
	defer stop3()
	if err := joinCluster(ctx3, seeds, port, ringNode{HostID: "h3", Name: "cassandra-3", Addr: "10.0.0.3", Cluster: "dataeco"}, true); err != nil {
		t.Fatal(err)
	}
	waitRing(t, ring, "cassandra=UN cassandra-2=UN cassandra-3=UN")
	stop2()
	waitRing(t, ring, "cassandra=UN cassandra-2=DN cassandra-3=UN")
	// Back, with its host ID: no bootstrap.
	ctx2b, stop2b := context.WithCancel(context.Background())
	defer stop2b()
	start := time.Now()
	if err := joinCluster(ctx2b, seeds, port, ringNode{HostID: "h2", Name: "cassandra-2", Addr: "10.0.0.2", Cluster: "dataeco"}, false); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("a known node bootstrapped again")
	}
	waitRing(t, ring, "cassandra=UN cassandra-2=UN cassandra-3=UN")
}

// ALTER KEYSPACE sets the replication factor system_schema.keyspaces shows.
func TestAlterKeyspace(t *testing.T) {
	e, err := newCQLEngine("", false, false, "5.0.9")
	if err != nil {
		t.Fatal(err)
	}
	sess := &cqlSession{}
	for _, stmt := range []string{
		"CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"ALTER KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
		"ALTER KEYSPACE system_auth WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
	} {
		if r := e.exec(sess, stmt); !r.OK {
			t.Fatalf("%s: %s", stmt, r.Message)
		}
	}
	if r := e.exec(sess, "ALTER KEYSPACE nope WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}"); r.OK {
		t.Error("altered a keyspace that does not exist")
	}
	r := e.exec(sess, "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'ks'")
	if !r.OK || len(r.Rows) != 1 || !strings.Contains(r.Rows[0][0], "'replication_factor': '3'") {
		t.Errorf("system_schema.keyspaces: %+v", r)
	}
}
