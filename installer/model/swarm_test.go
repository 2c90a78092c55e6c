package model

import (
	"strings"
	"testing"
)

// Each broker after the first gets a node of its own, other than the home node, and keeps it:
// its volume is there.
func TestPlaceMembers(t *testing.T) {
	t.Parallel()
	nodes := []SwarmNode{
		{ID: "h", Hostname: "home", Addr: "10.0.0.1", Usable: true},
		{ID: "c", Hostname: "node-c", Addr: "10.0.0.3", Usable: true},
		{ID: "b", Hostname: "node-b", Addr: "10.0.0.2", Usable: true},
		{ID: "d", Hostname: "node-d", Addr: "10.0.0.4", Usable: false},
	}
	for _, tc := range []struct {
		name    string
		brokers int
		before  map[string]SwarmPlace
		want    map[string]string // member -> node
		err     string
	}{
		{name: "one broker places nothing", brokers: 1, want: map[string]string{}},
		{name: "three on three nodes, by host name", brokers: 3, want: map[string]string{"broker-2": "b", "broker-3": "c"}},
		{name: "placed members stay", brokers: 3, before: map[string]SwarmPlace{"broker-2": {Node: "c", Addr: "10.0.0.3"}},
			want: map[string]string{"broker-2": "c", "broker-3": "b"}},
		{name: "a member beyond the answers keeps its place", brokers: 2, before: map[string]SwarmPlace{"broker-3": {Node: "b"}},
			want: map[string]string{"broker-2": "c", "broker-3": "b"}},
		{name: "too few usable nodes", brokers: 4, err: "4 broker members need 4 swarm nodes, one each, and this swarm has 3 ready and active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := DefaultAnswers(EngineResources{NCPU: 4, MemTotal: 8 << 30})
			a.KafkaBrokers, a.Swarm = tc.brokers, true
			in := Inputs{SwarmHome: "h", SwarmPlaces: map[string]SwarmPlace{}}
			for k, v := range tc.before {
				in.SwarmPlaces[k] = v
			}
			err := PlaceMembers(&a, &in, nodes)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range in.SwarmPlaces {
				got[k] = v.Node
			}
			if len(got) != len(tc.want) {
				t.Errorf("places %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s on %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			if p := in.SwarmPlaces["broker-2"]; tc.brokers == 3 && tc.before == nil && p.Addr != "10.0.0.2" {
				t.Errorf("broker-2 would advertise %q, not its node's address", p.Addr)
			}
		})
	}
}
