package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestResolveListeners(t *testing.T) {
	lis, err := resolveListeners("PLAINTEXT://0.0.0.0:29092,PLAINTEXT_HOST://0.0.0.0:9092",
		"PLAINTEXT://broker:29092,PLAINTEXT_HOST://localhost:9092",
		"PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT", "abc123")
	if err != nil {
		t.Fatal(err)
	}
	if len(lis) != 2 {
		t.Fatalf("got %d listeners", len(lis))
	}
	if l := lis[0]; l.Name != "PLAINTEXT" || l.Bind != "0.0.0.0:29092" || l.Advertise != "broker:29092" {
		t.Errorf("listener 0 = %+v", l)
	}
	if l := lis[1]; l.Name != "PLAINTEXT_HOST" || l.Bind != "0.0.0.0:9092" || l.AdvHost != "localhost" || l.AdvPort != 9092 {
		t.Errorf("listener 1 = %+v", l)
	}

	// KAFKA_LISTENERS derived from the advertised ones, as Confluent's
	// configure script does.
	lis, err = resolveListeners("", "PLAINTEXT://broker:29092", "", "abc123")
	if err != nil || len(lis) != 1 || lis[0].Bind != "0.0.0.0:29092" || lis[0].Advertise != "broker:29092" {
		t.Errorf("derived: %+v, %v", lis, err)
	}

	// A listener that is not advertised advertises its host, or the
	// container's host name for a wildcard.
	lis, err = resolveListeners("PLAINTEXT://0.0.0.0:29092,INTERNAL://0.0.0.0:29093", "PLAINTEXT://broker:29092",
		"PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT", "abc123")
	if err != nil || lis[1].Advertise != "abc123:29093" {
		t.Errorf("unadvertised: %+v, %v", lis, err)
	}

	for _, bad := range []struct{ lis, adv, proto string }{
		{"PLAINTEXT://0.0.0.0:9092", "OTHER://x:9092", ""},                             // advertised name not listened on
		{"A://0.0.0.0:9092,B://0.0.0.0:9092", "A://x:9092", "A:PLAINTEXT,B:PLAINTEXT"}, // port used twice
		{"SSL://0.0.0.0:9093", "SSL://x:9093", ""},                                     // not PLAINTEXT
		{"PLAINTEXT://0.0.0.0", "PLAINTEXT://x:9092", ""},                              // no port
		{"PLAINTEXT:0.0.0.0:9092", "", ""},                                             // no scheme
	} {
		if _, err := resolveListeners(bad.lis, bad.adv, bad.proto, "h"); err == nil {
			t.Errorf("resolveListeners(%q, %q) succeeded", bad.lis, bad.adv)
		}
	}
}

// startTestBroker runs kfake behind one proxy per advertised address and
// returns the proxies' addresses.
func startTestBroker(t *testing.T, adv ...string) []string {
	return startTestBrokerAuth(t, nil, adv...)
}

// startTestBrokerAuth is startTestBroker with listeners that require SASL/PLAIN users when
// users is not nil.
func startTestBrokerAuth(t *testing.T, users map[string]string, adv ...string) []string {
	t.Helper()
	cluster, port, err := startKfake("", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); cluster.Close() })
	internal := func() (string, error) { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil }
	var addrs []string
	for _, a := range adv {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { <-ctx.Done(); ln.Close() }()
		host, port := a, int32(0)
		if a == "" { // advertise the proxy itself, so that clients can use it
			host, port = "127.0.0.1", int32(ln.Addr().(*net.TCPAddr).Port)
		} else {
			h, p, _ := net.SplitHostPort(a)
			pn, _ := strconv.Atoi(p)
			host, port = h, int32(pn)
		}
		go serveKafkaProxy(ctx, ln, internal, "TEST", nodeMap{Store: 1, Adv: fixedAdvertiser(host, port)}, users)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

func seedMetadata(t *testing.T, seed string) *kmsg.MetadataResponse {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.MetadataResponse)
}

func TestProxyAdvertisesPerListener(t *testing.T) {
	addrs := startTestBroker(t, "broker:29092", "localhost:9092")
	for i, want := range []string{"broker:29092", "localhost:9092"} {
		md := seedMetadata(t, addrs[i])
		if len(md.Brokers) != 1 {
			t.Fatalf("listener %d: %d brokers", i, len(md.Brokers))
		}
		got := net.JoinHostPort(md.Brokers[0].Host, strconv.Itoa(int(md.Brokers[0].Port)))
		if got != want {
			t.Errorf("listener %d advertises %s, want %s", i, got, want)
		}
	}
}

func TestProxyProduceConsume(t *testing.T) {
	addrs := startTestBroker(t, "")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs[0]), kgo.ConsumeTopics("standin-test"),
		kgo.AllowAutoTopicCreation(), kgo.ConsumerGroup("g1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "standin-test", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatal("no record consumed:", err)
		}
		var got []string
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		if len(got) > 0 {
			if got[0] != "hello" {
				t.Fatalf("consumed %q", got)
			}
			return
		}
	}
}

func TestRewriteFindCoordinator(t *testing.T) {
	for _, ver := range []int16{2, 4, 5} {
		resp := kmsg.NewPtrFindCoordinatorResponse()
		resp.SetVersion(ver)
		if ver < 4 {
			resp.Host, resp.Port = kfakeMarkerHost, 1234
		} else {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.Host, c.Port = "g", kfakeMarkerHost, 1234
			resp.Coordinators = append(resp.Coordinators, c)
		}
		body := binary.BigEndian.AppendUint32(nil, 42)
		if resp.IsFlexible() {
			body = append(body, 0) // no header tags
		}
		body = resp.AppendTo(body)
		out := rewriteKafkaResponse(body, 10, ver, nodeMap{Adv: fixedAdvertiser("broker", 29092)})
		if !bytes.Equal(out[:4], body[:4]) {
			t.Fatalf("v%d: correlation id changed", ver)
		}
		if bytes.Contains(out, []byte(kfakeMarkerHost)) || !bytes.Contains(out, []byte("broker")) {
			t.Errorf("v%d: not rewritten", ver)
		}
		hdr, _ := responseHeaderLen(out, resp.IsFlexible())
		back := kmsg.NewPtrFindCoordinatorResponse()
		back.SetVersion(ver)
		if err := back.ReadFrom(out[hdr:]); err != nil {
			t.Fatalf("v%d: %v", ver, err)
		}
	}
	// Unrelated APIs pass through untouched.
	body := []byte{0, 0, 0, 1, 9, 9, 9}
	if out := rewriteKafkaResponse(body, 18, 3, nodeMap{Adv: fixedAdvertiser("x", 1)}); !bytes.Equal(out, body) {
		t.Error("ApiVersions response changed")
	}
}

func TestParseKafkaReadyArgs(t *testing.T) {
	a, err := parseKafkaReadyArgs([]string{"-b", "localhost:29092", "1", "10"})
	if err != nil || a.minBrokers != 1 || a.timeout != 10*time.Second || a.bootstrap[0] != "localhost:29092" {
		t.Errorf("got %+v, %v", a, err)
	}
	a, err = parseKafkaReadyArgs([]string{"--bootstrap-servers=PLAINTEXT://b:1,c:2", "-c", "/etc/x.properties", "3", "2.5"})
	if err != nil || len(a.bootstrap) != 2 || a.bootstrap[0] != "b:1" || a.minBrokers != 3 || a.timeout != 2500*time.Millisecond {
		t.Errorf("got %+v, %v", a, err)
	}
	for _, bad := range [][]string{
		{"1", "10"},                 // no -b
		{"-b", "x:1", "1"},          // missing timeout
		{"-b", "x:1", "zero", "10"}, // bad count
		{"-b", "x:1", "-s", "SSL", "1", "1"},
		{"-z", "zk:2181", "1", "10"},
	} {
		if _, err := parseKafkaReadyArgs(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if code := cubMain([]string{"sr-ready"}); code != 2 {
		t.Errorf("unknown subcommand exit %d", code)
	}
}

func TestKafkaReady(t *testing.T) {
	addrs := startTestBroker(t, "broker:29092")
	var out, errb strings.Builder
	if code := kafkaReady(kafkaReadyArgs{bootstrap: addrs, minBrokers: 1, timeout: 5 * time.Second}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "broker:29092") {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	if code := kafkaReady(kafkaReadyArgs{bootstrap: addrs, minBrokers: 2, timeout: time.Second}, &out, &errb); code != 1 {
		t.Errorf("2 brokers: exit %d", code)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	errb.Reset()
	if code := kafkaReady(kafkaReadyArgs{bootstrap: []string{dead}, minBrokers: 1, timeout: time.Second}, &out, &errb); code != 1 {
		t.Errorf("dead broker: exit %d", code)
	}
	if !strings.Contains(errb.String(), "Expected 1 brokers") {
		t.Errorf("stderr %q", errb.String())
	}
}
