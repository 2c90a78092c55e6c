package checks

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestParseRoutes(t *testing.T) {
	t.Parallel()
	// /proc/net/route on a laptop with Docker and a VPN.
	table := `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
wlan0	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0
wlan0	0001A8C0	00000000	0001	0	0	600	00FFFFFF	0	0	0
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
tun0	000014AC	00000000	0001	0	0	50	0000FFFF	0	0	0
`
	got, err := parseRoutes(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"wlan0 0.0.0.0/0", "wlan0 192.168.1.0/24", "docker0 172.17.0.0/16", "tun0 172.20.0.0/16"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, r := range got {
		if s := r.Iface + " " + r.Dest.String(); s != want[i] {
			t.Errorf("route %d = %s, want %s", i, s, want[i])
		}
	}
}

func TestCheckSubnet(t *testing.T) {
	t.Parallel()
	net := func(name, subnet string) network.Summary {
		var n network.Summary
		n.Name = name
		n.IPAM.Config = []network.IPAMConfig{{Subnet: netip.MustParsePrefix(subnet)}}
		return n
	}
	route := func(iface, dest string) Route { return Route{Dest: netip.MustParsePrefix(dest), Iface: iface} }
	base := []Route{route("wlan0", "0.0.0.0/0"), route("wlan0", "192.168.1.0/24"), route("docker0", "172.17.0.0/16"), route("br-1a2b", "172.18.0.0/16")}
	vpn := append(append([]Route{}, base...), route("tun0", "10.100.0.0/16"), route("tun0", "172.20.0.0/14"))
	for _, tt := range []struct {
		name     string
		subnet   string
		networks []network.Summary
		routes   []Route
		goos     string
		status   Status
		has      []string
	}{
		{"engine picks, nothing in the way", "", []network.Summary{net("bridge", "172.17.0.0/16")}, base, "linux", Pass, []string{"the engine picks"}},
		{"engine picks, a VPN in its ranges", "", nil, vpn, "linux", Warn, []string{"172.20.0.0/14 on tun0", "--subnet 10.101.0.0/24"}},
		{"asked range free", "10.214.7.0/24", []network.Summary{net("bridge", "172.17.0.0/16")}, vpn, "linux", Pass, []string{"10.214.7.0/24 overlaps no"}},
		{"asked range on another network", "172.18.0.0/24", []network.Summary{net("other_default", "172.18.0.0/16")}, base, "linux", Fail,
			[]string{"other_default (172.18.0.0/16)", "refuses", "--subnet 10.100.0.0/24"}},
		{"asked range under the VPN", "10.100.4.0/24", nil, vpn, "linux", Warn, []string{"10.100.0.0/16 on tun0", "unreachable", "--subnet 10.101.0.0/24"}},
		{"asked range is the LAN", "192.168.1.0/24", nil, base, "linux", Warn, []string{"192.168.1.0/24 on wlan0"}},
		{"a re-run: its own network is no clash", "10.214.7.0/24", []network.Summary{net("dataeco_default", "10.214.7.0/24")}, base, "linux", Pass, nil},
		{"a re-run without --subnet: the network it has", "", []network.Summary{net("dataeco_default", "10.100.9.0/24")}, vpn, "linux", Warn, []string{"10.100.9.0/24 overlaps", "tun0"}},
		{"macOS: no routes to compare", "10.100.4.0/24", nil, vpn, "darwin", Pass, []string{"the engine's networks only"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(func(e *Env) {
				e.GOOS = tt.goos
				e.Plan.Subnet = tt.subnet
				e.Plan.Flags.Subnet = "--subnet"
				e.Engine.API.(*fakeEngine).networks = tt.networks
				e.Routes = func() ([]Route, error) { return tt.routes, nil }
			})
			r := checkSubnet(context.Background(), env)
			if r.Status != tt.status {
				t.Errorf("status %s, want %s: %s", r.Status, tt.status, r.Message)
			}
			text := r.Message + " | " + r.Fix
			for _, h := range tt.has {
				if !strings.Contains(text, h) {
					t.Errorf("%q lacks %q", text, h)
				}
			}
		})
	}
}
