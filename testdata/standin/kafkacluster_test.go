package main

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startTestZK runs the stand-in ZooKeeper's client port in-process.
func startTestZK(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, zkHandler(newZKRegistry())).Addr().String()
}

// startClusterBroker runs broker id of a ZooKeeper cluster with one listener that
// advertises itself; its context's cancel stops it, as a killed container.
func startClusterBroker(t *testing.T, id int32) (string, context.CancelFunc, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	l := kafkaListener{Name: "TEST", Bind: ln.Addr().String(), AdvHost: "127.0.0.1", AdvPort: int32(port), Protocol: "PLAINTEXT", Advertise: ln.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	internal, adv, err := brokerBackend(ctx, false, id, []kafkaListener{l})
	if err != nil {
		ln.Close()
		cancel()
		return "", nil, err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	go serveKafkaProxy(ctx, ln, internal, l.Name, adv(l), nil)
	return ln.Addr().String(), cancel, nil
}

// Three brokers registered in one ZooKeeper are one cluster: any of them lists all three at
// their own addresses, a topic takes three replicas and records, a fourth broker with a
// taken ID fails as Kafka's does, and a broker that stops leaves the cluster.
func TestKafkaCluster(t *testing.T) {
	t.Setenv("KAFKA_ZOOKEEPER_CONNECT", startTestZK(t))
	t.Setenv("KAFKA_LOG_DIRS", "/dev/null/memory-only") // kfake keeps the data in memory
	addrs := map[int32]string{}
	stops := map[int32]context.CancelFunc{}
	for _, id := range []int32{2, 1, 3} { // the store need not be first
		addr, stop, err := startClusterBroker(t, id)
		if err != nil {
			t.Fatalf("broker %d: %v", id, err)
		}
		addrs[id], stops[id] = addr, stop
	}
	if _, _, err := startClusterBroker(t, 2); err == nil {
		t.Fatal("a second broker 2 started")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs[3]), kgo.ConsumeTopics("replicated"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var brokers kadm.BrokerDetails
	for brokers = nil; len(brokers) != 3 && ctx.Err() == nil; time.Sleep(200 * time.Millisecond) {
		brokers, _ = adm.ListBrokers(ctx)
	}
	for _, b := range brokers {
		if got := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))); got != addrs[b.NodeID] {
			t.Errorf("broker %d advertised as %s, want %s", b.NodeID, got, addrs[b.NodeID])
		}
	}
	if len(brokers) != 3 {
		t.Fatalf("%d brokers in the metadata, want 3", len(brokers))
	}
	if _, err := adm.CreateTopic(ctx, 1, 4, nil, "too-many"); err == nil {
		t.Error("a topic with 4 replicas on 3 brokers was created")
	}
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "replicated"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "replicated", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for got := false; !got; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("the record was not consumed back")
		}
		got = len(fs.Records()) > 0
	}
	stops[3]()
	for brokers = nil; ctx.Err() == nil; time.Sleep(200 * time.Millisecond) {
		if brokers, _ = adm.ListBrokers(ctx); len(brokers) == 2 {
			break
		}
	}
	if len(brokers) != 2 {
		t.Fatalf("broker 3 stopped, still %d brokers", len(brokers))
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "replicated", Value: []byte("again")}).FirstErr(); err != nil {
		t.Fatalf("producing with broker 3 gone: %v", err)
	}
}
