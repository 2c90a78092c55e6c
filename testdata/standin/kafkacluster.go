package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// A cluster of stand-in brokers. Real brokers find each other through ZooKeeper: each
// registers an ephemeral /brokers/ids/<id> node with its advertised listeners, and a second
// broker with the same ID fails to start. The stand-in ZooKeeper keeps such a registry,
// spoken by stand-ins only (the words sreg and slst on its client port). A session ends
// when its connection closes or stays silent for zkSessionTimeout, and its registration with
// it, as an ephemeral node does.
//
// The data of a stand-in cluster lives in one kfake cluster, run by the broker with ID
// storeBrokerID, which adds a kfake node for every broker registered and removes the node
// of a broker whose session ended (its partitions get other leaders, as after an election).
// Every other broker relays its listeners to its own node there. Each relay rewrites the
// broker addresses in responses to what the broker of that ID advertises on the listener the
// client came through, so a client is sent to the broker that leads a partition, through
// whatever address dataeco made it advertise: wrong IDs, listeners or addresses fail here as
// they would on a real cluster.

const (
	storeBrokerID    = 1
	zkSessionTimeout = 6 * time.Second
)

// brokerReg is a broker's registration.
type brokerReg struct {
	ID int32 `json:"id"`
	// Listeners maps a listener name to the host:port the broker advertises on it.
	Listeners map[string]string `json:"listeners"`
	// Inter names the listener brokers reach each other by.
	Inter string `json:"inter"`
	// Store, from the store broker only: the port of each broker's kfake node.
	Store map[int32]int `json:"store,omitempty"`
}

// zkRegistry is the stand-in ZooKeeper's list of live brokers.
type zkRegistry struct {
	mu      sync.Mutex
	brokers map[int32]brokerReg
	owner   map[int32]net.Conn
}

func newZKRegistry() *zkRegistry {
	return &zkRegistry{brokers: map[int32]brokerReg{}, owner: map[int32]net.Conn{}}
}

// serveRegistration holds one broker's session: the registration line, then pings and
// updates until the connection ends or goes silent.
func (z *zkRegistry) serveRegistration(c net.Conn, r *bufio.Reader) {
	line, err := r.ReadString('\n')
	var reg brokerReg
	if err == nil {
		err = json.Unmarshal([]byte(line), &reg)
	}
	if err != nil {
		fmt.Fprintf(c, "error %v\n", err)
		return
	}
	z.mu.Lock()
	if _, taken := z.brokers[reg.ID]; taken {
		z.mu.Unlock()
		logf("registration of broker %d from %s refused: /brokers/ids/%d exists", reg.ID, c.RemoteAddr(), reg.ID)
		fmt.Fprintf(c, "exists\n")
		return
	}
	z.brokers[reg.ID], z.owner[reg.ID] = reg, c
	z.mu.Unlock()
	logf("broker %d registered from %s: %v", reg.ID, c.RemoteAddr(), reg.Listeners)
	fmt.Fprintf(c, "ok\n")
	defer func() {
		z.mu.Lock()
		if z.owner[reg.ID] == c {
			delete(z.brokers, reg.ID)
			delete(z.owner, reg.ID)
		}
		z.mu.Unlock()
		logf("session of broker %d ended: /brokers/ids/%d removed", reg.ID, reg.ID)
	}()
	for {
		c.SetReadDeadline(time.Now().Add(zkSessionTimeout))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if upd, ok := strings.CutPrefix(line, "supd "); ok {
			var next brokerReg
			if json.Unmarshal([]byte(upd), &next) == nil && next.ID == reg.ID {
				z.mu.Lock()
				z.brokers[reg.ID] = next
				z.mu.Unlock()
			}
		}
	}
}

// list writes every live registration, by ID.
func (z *zkRegistry) list(c net.Conn) {
	z.mu.Lock()
	out := make([]brokerReg, 0, len(z.brokers))
	for _, b := range z.brokers {
		out = append(out, b)
	}
	z.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	json.NewEncoder(c).Encode(out)
}

var errBrokerExists = errors.New("broker ID registered already")

// zkSession is a broker's registration, kept alive.
type zkSession struct {
	zk  []string
	mu  sync.Mutex
	reg brokerReg
	c   net.Conn
}

func dialZK(ctx context.Context, zk []string) (net.Conn, error) {
	var last error
	for _, addr := range zk {
		d := net.Dialer{Timeout: 3 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// register opens a session and registers reg in it.
func (s *zkSession) register(ctx context.Context) error {
	c, err := dialZK(ctx, s.zk)
	if err != nil {
		return err
	}
	s.mu.Lock()
	b, _ := json.Marshal(s.reg)
	s.mu.Unlock()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "sreg%s\n", b); err != nil {
		c.Close()
		return err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		c.Close()
		return fmt.Errorf("registering: %v", err)
	}
	if strings.TrimSpace(reply) == "exists" {
		c.Close()
		return errBrokerExists
	}
	if strings.TrimSpace(reply) != "ok" {
		c.Close()
		return fmt.Errorf("registering: %s", strings.TrimSpace(reply))
	}
	c.SetDeadline(time.Time{})
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
	return nil
}

// keep pings the session and, when it is lost (ZooKeeper restarted), registers again.
func (s *zkSession) keep(ctx context.Context) {
	t := time.NewTicker(zkSessionTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			if s.c != nil {
				s.c.Close()
			}
			s.mu.Unlock()
			return
		case <-t.C:
		}
		s.mu.Lock()
		c := s.c
		s.mu.Unlock()
		if c != nil {
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write([]byte("ping\n")); err == nil {
				continue
			}
			c.Close()
			s.mu.Lock()
			s.c = nil
			s.mu.Unlock()
			logf("zookeeper session lost; registering again")
		}
		if err := s.register(ctx); err != nil && ctx.Err() == nil {
			logf("registering again: %v", err)
		}
	}
}

// setStore updates the store's map of kfake node ports in the registration.
func (s *zkSession) setStore(store map[int32]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reg.Store = store
	if s.c == nil {
		return
	}
	b, _ := json.Marshal(s.reg)
	s.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(s.c, "supd %s\n", b)
}

// clusterView is a broker's latest copy of the registry.
type clusterView struct {
	zk      []string
	mu      sync.Mutex
	brokers map[int32]brokerReg
}

func listZK(ctx context.Context, zk []string) ([]brokerReg, error) {
	c, err := dialZK(ctx, zk)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("slst")); err != nil {
		return nil, err
	}
	var out []brokerReg
	if err := json.NewDecoder(c).Decode(&out); err != nil {
		return nil, fmt.Errorf("reading the broker list: %v", err)
	}
	return out, nil
}

// refresh keeps the view current, calling changed (when set) after each read.
func (v *clusterView) refresh(ctx context.Context, every time.Duration, changed func(map[int32]brokerReg)) {
	for {
		if list, err := listZK(ctx, v.zk); err == nil {
			m := map[int32]brokerReg{}
			for _, b := range list {
				m[b.ID] = b
			}
			v.mu.Lock()
			v.brokers = m
			v.mu.Unlock()
			if changed != nil {
				changed(m)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// advertised is where broker id is reached through listener, from the registry.
func (v *clusterView) advertised(id int32, listener string) (string, int32, bool) {
	v.mu.Lock()
	b, ok := v.brokers[id]
	v.mu.Unlock()
	if !ok {
		return "", 0, false
	}
	host, port, err := net.SplitHostPort(b.Listeners[listener])
	if err != nil {
		return "", 0, false
	}
	p, _ := strconv.Atoi(port)
	return host, int32(p), true
}

// storeAddr is the address of broker id's kfake node in the store broker.
func (v *clusterView) storeAddr(id int32) (string, error) {
	v.mu.Lock()
	store, ok := v.brokers[storeBrokerID]
	v.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("broker %d, which holds the stand-in cluster's data, is not registered", storeBrokerID)
	}
	port, ok := store.Store[id]
	if !ok {
		return "", fmt.Errorf("broker %d has no node for broker %d yet", storeBrokerID, id)
	}
	host, _, err := net.SplitHostPort(store.Listeners[store.Inter])
	if err != nil {
		return "", fmt.Errorf("broker %d advertises no inter-broker listener %s", storeBrokerID, store.Inter)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// storeNodes keeps the store's kfake nodes those of the registered brokers: a node for every
// live broker, none for a broker whose session ended (never the store's own). ports are by
// broker ID; kfake's node IDs are nodeMap's.
type storeNodes struct {
	mu      sync.Mutex
	cluster *kfake.Cluster
	own     int32
	ports   map[int32]int
	session *zkSession
}

func (s *storeNodes) sync(live map[int32]brokerReg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for id := range live {
		if _, ok := s.ports[id]; ok {
			continue
		}
		_, port, err := s.cluster.AddNode(nodeMap{Store: s.own}.broker(id), 0)
		if err != nil {
			logf("adding a node for broker %d: %v", id, err)
			continue
		}
		logf("broker %d joined the cluster (kfake node on port %d)", id, port)
		s.ports[id], changed = port, true
	}
	for id := range s.ports {
		if _, ok := live[id]; ok || id == s.own {
			continue
		}
		if err := s.cluster.RemoveNode(nodeMap{Store: s.own}.broker(id)); err != nil {
			logf("removing broker %d's node: %v", id, err)
			continue
		}
		logf("broker %d left the cluster: its partitions have other leaders", id)
		delete(s.ports, id)
		changed = true
	}
	if changed || !maps.Equal(live[s.own].Store, s.ports) {
		s.session.setStore(maps.Clone(s.ports))
	}
}

// brokerBackend is what a broker's listeners relay to, and the addresses its responses
// carry: its own kfake cluster when it runs without ZooKeeper (KRaft) or holds the cluster's
// data (storeBrokerID), else its node in the store broker's. Under ZooKeeper it registers
// first, and fails as Kafka does when its ID is taken.
func brokerBackend(ctx context.Context, kraft bool, id int32, lis []kafkaListener) (func() (string, error), func(kafkaListener) nodeMap, error) {
	own := func(l kafkaListener) nodeMap { return nodeMap{Store: id, Adv: fixedAdvertiser(l.AdvHost, l.AdvPort)} }
	// local runs the kfake cluster in this broker, its nodes listening on host.
	local := func(host string) (func() (string, error), *storeNodes, error) {
		dataDir := filepath.Join(envOr("KAFKA_LOG_DIRS", "/var/lib/kafka/data"), "standin-kfake")
		cluster, port, err := startKfake(dataDir, host)
		if err != nil {
			logf("kfake could not use %s (%v); starting without persistence", dataDir, err)
			if cluster, port, err = startKfake("", host); err != nil {
				return nil, nil, fmt.Errorf("starting kfake: %v", err)
			}
		}
		go func() { <-ctx.Done(); cluster.Close() }()
		logf("kfake broker %d running on port %d (data %s)", id, port, dataDir)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		nodes := &storeNodes{cluster: cluster, own: id, ports: map[int32]int{id: port}}
		return func() (string, error) { return addr, nil }, nodes, nil
	}
	if kraft {
		internal, _, err := local("127.0.0.1")
		return internal, own, err
	}
	reg := brokerReg{ID: id, Listeners: map[string]string{}, Inter: envOr("KAFKA_INTER_BROKER_LISTENER_NAME", lis[0].Name)}
	for _, l := range lis {
		reg.Listeners[l.Name] = l.Advertise
	}
	zk := bootstrapAddrs(os.Getenv("KAFKA_ZOOKEEPER_CONNECT"))
	session := &zkSession{zk: zk, reg: reg}
	if err := session.register(ctx); err != nil {
		if errors.Is(err, errBrokerExists) {
			return nil, nil, exitWith(1, "Error while creating ephemeral at /brokers/ids/%d, node already exists and owner does not match current session "+
				"(kafka.zk.KafkaZkClient$CheckedEphemeral): broker.id %d is in use by another broker", id, id)
		}
		return nil, nil, fmt.Errorf("registering with ZooKeeper: %v", err)
	}
	go session.keep(ctx)
	view := &clusterView{zk: zk}
	adv := func(l kafkaListener) nodeMap {
		return nodeMap{Store: storeBrokerID, Adv: func(broker int32) (string, int32) {
			if broker != id {
				if h, p, ok := view.advertised(broker, l.Name); ok {
					return h, p
				}
			}
			return l.AdvHost, l.AdvPort
		}}
	}
	if id != storeBrokerID {
		logf("broker %d relays to its node in broker %d, which holds the stand-in cluster's data", id, storeBrokerID)
		go view.refresh(ctx, time.Second, nil)
		return func() (string, error) { return view.storeAddr(id) }, adv, nil
	}
	internal, nodes, err := local("0.0.0.0")
	if err != nil {
		return nil, nil, err
	}
	nodes.session = session
	go view.refresh(ctx, 500*time.Millisecond, nodes.sync)
	return internal, adv, nil
}
