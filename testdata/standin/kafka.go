package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The broker is a kfake cluster of one node, listening on a loopback port
// only, fronted by one Kafka-aware TCP proxy per configured listener. kfake
// advertises a single address per node (the one its own listener reports),
// while Kafka advertises one address per listener. Each proxy forwards
// frames unchanged except the responses that carry broker addresses
// (Metadata, FindCoordinator, DescribeCluster, and the leader hints in
// Produce, Fetch and ShareFetch), in which it replaces kfake's address with
// the advertised address of the listener the client came through.

// kafkaListener is one entry of KAFKA_LISTENERS joined with its entry of
// KAFKA_ADVERTISED_LISTENERS.
type kafkaListener struct {
	Name      string // e.g. PLAINTEXT_HOST
	Bind      string // host:port to listen on
	AdvHost   string // advertised host
	AdvPort   int32  // advertised port
	Protocol  string // security protocol from the map, default = name
	Advertise string // AdvHost:AdvPort, for logs
}

type listenerSpec struct {
	name, host string
	port       int
}

// parseListenerList parses "NAME://host:port,NAME2://host:port".
func parseListenerList(s string) ([]listenerSpec, error) {
	var out []listenerSpec
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.Index(item, "://")
		if i <= 0 {
			return nil, fmt.Errorf("listener %q is not NAME://host:port", item)
		}
		name := strings.ToUpper(item[:i])
		host, port, err := net.SplitHostPort(item[i+3:])
		if err != nil {
			return nil, fmt.Errorf("listener %q: %v", item, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("listener %q: bad port", item)
		}
		for _, o := range out {
			if o.name == name {
				return nil, fmt.Errorf("listener name %s appears twice", name)
			}
		}
		out = append(out, listenerSpec{name: name, host: host, port: p})
	}
	return out, nil
}

// resolveListeners joins KAFKA_LISTENERS, KAFKA_ADVERTISED_LISTENERS and
// KAFKA_LISTENER_SECURITY_PROTOCOL_MAP the way the broker does. An empty
// listeners value is derived from the advertised one with host 0.0.0.0, as
// Confluent's configure script does. A listener with no advertised entry
// advertises its bind host, or defaultHost when that is a wildcard.
func resolveListeners(listeners, advertised, protoMap, defaultHost string) ([]kafkaListener, error) {
	adv, err := parseListenerList(advertised)
	if err != nil {
		return nil, fmt.Errorf("KAFKA_ADVERTISED_LISTENERS: %v", err)
	}
	var lis []listenerSpec
	if strings.TrimSpace(listeners) == "" {
		for _, a := range adv {
			lis = append(lis, listenerSpec{name: a.name, host: "0.0.0.0", port: a.port})
		}
	} else if lis, err = parseListenerList(listeners); err != nil {
		return nil, fmt.Errorf("KAFKA_LISTENERS: %v", err)
	}
	if len(lis) == 0 {
		lis = []listenerSpec{{name: "PLAINTEXT", host: "0.0.0.0", port: 9092}}
	}
	protos := map[string]string{}
	for _, kv := range strings.Split(protoMap, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), ":"); ok {
			protos[strings.ToUpper(k)] = strings.ToUpper(v)
		}
	}
	advByName := map[string]listenerSpec{}
	for _, a := range adv {
		advByName[a.name] = a
	}
	for _, a := range adv {
		found := false
		for _, l := range lis {
			found = found || l.name == a.name
		}
		if !found {
			return nil, fmt.Errorf("advertised listener %s has no matching entry in KAFKA_LISTENERS", a.name)
		}
	}
	ports := map[int]string{}
	var out []kafkaListener
	for _, l := range lis {
		if other, dup := ports[l.port]; dup {
			return nil, fmt.Errorf("listeners %s and %s both use port %d", other, l.name, l.port)
		}
		ports[l.port] = l.name
		kl := kafkaListener{Name: l.name, Bind: net.JoinHostPort(l.host, strconv.Itoa(l.port))}
		if a, ok := advByName[l.name]; ok {
			kl.AdvHost, kl.AdvPort = a.host, int32(a.port)
		} else {
			kl.AdvHost, kl.AdvPort = l.host, int32(l.port)
		}
		if kl.AdvHost == "" || kl.AdvHost == "0.0.0.0" || kl.AdvHost == "::" {
			kl.AdvHost = defaultHost
		}
		kl.Protocol = protos[l.name]
		if kl.Protocol == "" {
			kl.Protocol = l.name
		}
		if kl.Protocol != "PLAINTEXT" && kl.Protocol != "SASL_PLAINTEXT" {
			return nil, fmt.Errorf("listener %s uses security protocol %s; the stand-in only speaks PLAINTEXT and SASL_PLAINTEXT", l.name, kl.Protocol)
		}
		kl.Advertise = net.JoinHostPort(kl.AdvHost, strconv.Itoa(int(kl.AdvPort)))
		out = append(out, kl)
	}
	return out, nil
}

// kfakeMarkerHost is the host name kfake advertises. It is never resolved:
// the proxies replace it in every response before a client sees it.
const kfakeMarkerHost = "standin-kfake.invalid"

// markerListener makes kfake advertise kfakeMarkerHost:port while it really
// listens on a loopback port.
type markerListener struct{ net.Listener }

type markerAddr struct{ port int }

func (markerAddr) Network() string  { return "tcp" }
func (a markerAddr) String() string { return net.JoinHostPort(kfakeMarkerHost, strconv.Itoa(a.port)) }

func (l markerListener) Addr() net.Addr {
	return markerAddr{port: l.Listener.Addr().(*net.TCPAddr).Port}
}

// startKfake starts a one-node kfake cluster listening on host (loopback for a broker alone,
// every address for the store of a cluster, whose other brokers relay to it), and returns it
// with that node's port. dataDir may be empty (memory only). kfake's first node is its
// controller for good, and is numbered 0: the proxies show it as the broker's own ID
// (nodeMap).
func startKfake(dataDir, host string) (*kfake.Cluster, int, error) {
	first := 0
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("standin-kafka-cluster"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
			if err != nil {
				return nil, err
			}
			if first == 0 {
				first = ln.Addr().(*net.TCPAddr).Port
			}
			return markerListener{ln}, nil
		}),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, 0, err
	}
	return c, first, nil
}

// nodeMap turns kfake's node IDs into broker IDs, and says where each broker is reached.
// kfake's node 0 is the broker that runs it (Store) and the store's own ID is the node of a
// broker 0, if any: the one swap is its own inverse. Other IDs are the same on both sides.
type nodeMap struct {
	Store int32
	Adv   advertiser
}

func (m nodeMap) broker(node int32) int32 {
	switch node {
	case 0:
		return m.Store
	case m.Store:
		return 0
	}
	return node
}

func brokerServe(ctx context.Context) error {
	kraft := os.Getenv("KAFKA_PROCESS_ROLES") != ""
	if kraft {
		if err := ensureEnv("CLUSTER_ID"); err != nil {
			return err
		}
	} else if err := ensureEnv("KAFKA_ZOOKEEPER_CONNECT"); err != nil {
		return err
	}
	if err := ensureEnv("KAFKA_ADVERTISED_LISTENERS"); err != nil {
		return err
	}
	host, _ := os.Hostname()
	lis, err := resolveListeners(os.Getenv("KAFKA_LISTENERS"), os.Getenv("KAFKA_ADVERTISED_LISTENERS"),
		os.Getenv("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), host)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	jmxPort, err := envInt("KAFKA_JMX_PORT", 9101)
	if err != nil {
		return exitWith(1, "%v", err)
	}

	if !kraft {
		zk := bootstrapAddrs(os.Getenv("KAFKA_ZOOKEEPER_CONNECT"))
		if err := waitTCP(ctx, "zookeeper", zk, 40*time.Second); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return exitWith(1, "zookeeper not ready: %v", err)
		}
	}

	id, err := envInt("KAFKA_BROKER_ID", storeBrokerID)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	internal, adv, err := brokerBackend(ctx, kraft, int32(id), lis)
	if err != nil {
		return err
	}

	errc := make(chan error, len(lis)+1)
	for _, l := range lis {
		l := l
		var users map[string]string
		if l.Protocol == "SASL_PLAINTEXT" {
			if users, err = kafkaPlainUsers(l.Name, os.Getenv); err != nil {
				return exitWith(1, "%v", err)
			}
		}
		ln, err := net.Listen("tcp", l.Bind)
		if err != nil {
			return fmt.Errorf("listener %s: %v", l.Name, err)
		}
		logf("listener %s (%s) on %s advertises %s", l.Name, l.Protocol, l.Bind, l.Advertise)
		go func() {
			<-ctx.Done()
			ln.Close()
		}()
		go func() {
			errc <- serveKafkaProxy(ctx, ln, internal, l.Name, adv(l), users)
		}()
	}
	go func() {
		errc <- serveTCP(ctx, fmt.Sprintf("0.0.0.0:%d", jmxPort), "jmx port", func(c net.Conn) {
			logf("jmx connection from %s (accepted and closed)", c.RemoteAddr())
			c.Close()
		})
	}()
	logf("started (kafka.server.KafkaServer)")
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// advertiser says where the broker of an ID is reached through one listener.
type advertiser func(broker int32) (host string, port int32)

// fixedAdvertiser sends clients to one address whatever the node: a broker alone.
func fixedAdvertiser(host string, port int32) advertiser {
	return func(int32) (string, int32) { return host, port }
}

// serveKafkaProxy relays the connections of one listener to the kfake node internal names;
// users, when not nil, are the SASL/PLAIN logins it requires first.
func serveKafkaProxy(ctx context.Context, ln net.Listener, internal func() (string, error), name string, adv nodeMap, users map[string]string) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		logf("kafka connection from %s via listener %s", c.RemoteAddr(), name)
		go func() {
			if err := proxyKafkaConn(c, internal, adv, users); err != nil {
				logf("kafka connection from %s via %s ended: %v", c.RemoteAddr(), name, err)
			}
		}()
	}
}

type inflightReq struct {
	corr     int32
	key, ver int16
}

const maxKafkaFrame = 256 << 20

func readKafkaFrame(r io.Reader) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 0 || n > maxKafkaFrame {
		return nil, fmt.Errorf("invalid frame size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func writeKafkaFrame(w io.Writer, body []byte) error {
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	_, err := w.Write(append(buf, body...))
	return err
}

// proxyKafkaConn relays one client connection to kfake. Kafka answers the
// requests of a connection in order, so a FIFO of in-flight request headers
// tells which API each response belongs to; requests without a response
// (acks=0 produce) are skipped when a later correlation ID shows up.
func proxyKafkaConn(client net.Conn, internal func() (string, error), adv nodeMap, users map[string]string) error {
	defer client.Close()
	addr, err := internal()
	if err != nil {
		return err
	}
	server, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer server.Close()
	if users != nil {
		user, err := kafkaSASLPlain(client, server, users, adv)
		if err != nil {
			logf("Failed authentication with %s (%v)", client.RemoteAddr(), err)
			return err
		}
		logf("%s authenticated as %s (SASL/PLAIN)", client.RemoteAddr(), user)
	}

	var mu sync.Mutex
	var queue []inflightReq
	done := make(chan error, 2)
	go func() {
		for {
			body, err := readKafkaFrame(client)
			if err != nil {
				done <- nil
				return
			}
			if len(body) >= 8 {
				mu.Lock()
				queue = append(queue, inflightReq{
					key:  int16(binary.BigEndian.Uint16(body[0:])),
					ver:  int16(binary.BigEndian.Uint16(body[2:])),
					corr: int32(binary.BigEndian.Uint32(body[4:])),
				})
				mu.Unlock()
			}
			body = rewriteKafkaRequest(body, adv)
			if err := writeKafkaFrame(server, body); err != nil {
				done <- err
				return
			}
		}
	}()
	go func() {
		for {
			body, err := readKafkaFrame(server)
			if err != nil {
				done <- nil
				return
			}
			if len(body) >= 4 {
				corr := int32(binary.BigEndian.Uint32(body))
				var req inflightReq
				found := false
				mu.Lock()
				for len(queue) > 0 && !found {
					req, queue = queue[0], queue[1:]
					found = req.corr == corr
				}
				mu.Unlock()
				if found {
					body = rewriteKafkaResponse(body, req.key, req.ver, adv)
				}
			}
			if err := writeKafkaFrame(client, body); err != nil {
				done <- err
				return
			}
		}
	}()
	return <-done
}

// rewriteKafkaResponse replaces kfake's node IDs and advertised addresses
// with the brokers' in a response body (correlation ID first, no size
// prefix). Bodies it does not understand are returned unchanged.
func rewriteKafkaResponse(body []byte, key, ver int16, adv nodeMap) []byte {
	switch key {
	case 3, 10, 60: // Metadata, FindCoordinator, DescribeCluster
	case 0, 1, 78: // Produce, Fetch, ShareFetch: only leader hints
		if !bytes.Contains(body, []byte(kfakeMarkerHost)) {
			return body
		}
	default:
		return body
	}
	resp := kmsg.ResponseForKey(key)
	if resp == nil {
		return body
	}
	resp.SetVersion(ver)
	hdr, err := responseHeaderLen(body, resp.IsFlexible() && key != 18)
	if err != nil {
		return body
	}
	if err := resp.ReadFrom(body[hdr:]); err != nil {
		logf("cannot decode response key %d v%d: %v", key, ver, err)
		return body
	}
	if !rewriteBrokerAddrs(resp, adv) {
		return body
	}
	out := append([]byte(nil), body[:hdr]...)
	return resp.AppendTo(out)
}

// rewriteKafkaRequest turns the broker ID an ApiVersions request (v5+) names as the broker
// it means to reach into kfake's node ID: kfake refuses a connection meant for another node.
// Other requests pass unchanged.
func rewriteKafkaRequest(body []byte, m nodeMap) []byte {
	if len(body) < 10 || int16(binary.BigEndian.Uint16(body)) != 18 || int16(binary.BigEndian.Uint16(body[2:])) < 5 {
		return body
	}
	// Header v2: key, version, correlation ID, client ID (int16 length), tagged fields.
	off := 10 + int(int16(binary.BigEndian.Uint16(body[8:])))
	if off < 10 || off > len(body) {
		return body
	}
	tags, err := responseHeaderLen(body[off-4:], true)
	if err != nil {
		return body
	}
	hdr := off - 4 + tags
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(int16(binary.BigEndian.Uint16(body[2:])))
	if err := req.ReadFrom(body[hdr:]); err != nil || req.NodeID < 0 {
		return body
	}
	req.NodeID = m.broker(req.NodeID)
	return req.AppendTo(append([]byte(nil), body[:hdr]...))
}

// responseHeaderLen is the length of the response header: the correlation
// ID and, for flexible versions, the tagged fields.
func responseHeaderLen(body []byte, flexible bool) (int, error) {
	if len(body) < 4 {
		return 0, errors.New("short response")
	}
	off := 4
	if !flexible {
		return off, nil
	}
	num, n := binary.Uvarint(body[off:])
	if n <= 0 {
		return 0, errors.New("bad tag count")
	}
	off += n
	for i := uint64(0); i < num; i++ {
		_, n := binary.Uvarint(body[off:])
		if n <= 0 {
			return 0, errors.New("bad tag")
		}
		off += n
		sz, n := binary.Uvarint(body[off:])
		if n <= 0 || uint64(len(body)-off-n) < sz {
			return 0, errors.New("bad tag size")
		}
		off += n + int(sz)
	}
	return off, nil
}

func rewriteBrokerAddrs(resp kmsg.Response, m nodeMap) bool {
	changed := false
	id := func(node *int32) {
		if b := m.broker(*node); b != *node {
			*node, changed = b, true
		}
	}
	ids := func(nodes []int32) {
		for i := range nodes {
			id(&nodes[i])
		}
	}
	fix := func(node *int32, host *string, port *int32) {
		id(node)
		if *host == kfakeMarkerHost {
			*host, *port = m.Adv(*node)
			changed = true
		}
	}
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		id(&r.ControllerID)
		for i := range r.Brokers {
			fix(&r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				p := &r.Topics[i].Partitions[j]
				id(&p.Leader)
				ids(p.Replicas)
				ids(p.ISR)
				ids(p.OfflineReplicas)
			}
		}
	case *kmsg.FindCoordinatorResponse:
		fix(&r.NodeID, &r.Host, &r.Port)
		for i := range r.Coordinators {
			fix(&r.Coordinators[i].NodeID, &r.Coordinators[i].Host, &r.Coordinators[i].Port)
		}
	case *kmsg.DescribeClusterResponse:
		id(&r.ControllerID)
		for i := range r.Brokers {
			fix(&r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	case *kmsg.ProduceResponse:
		for i := range r.Brokers {
			fix(&r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				id(&r.Topics[i].Partitions[j].CurrentLeader.LeaderID)
			}
		}
	case *kmsg.FetchResponse:
		for i := range r.Brokers {
			fix(&r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				id(&r.Topics[i].Partitions[j].CurrentLeader.LeaderID)
			}
		}
	case *kmsg.ShareFetchResponse:
		for i := range r.NodeEndpoints {
			fix(&r.NodeEndpoints[i].NodeID, &r.NodeEndpoints[i].Host, &r.NodeEndpoints[i].Port)
		}
	}
	return changed
}
