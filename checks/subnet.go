package checks

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Route is one of the host's IPv4 routes: where addresses in Dest are sent.
type Route struct {
	Dest  netip.Prefix
	Iface string
}

// HostRoutes reads the host's IPv4 routing table (Linux's /proc/net/route).
func HostRoutes() ([]Route, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseRoutes(f)
}

// parseRoutes reads /proc/net/route: destination and mask in hex, in the host's byte order
// (little-endian on every machine Docker runs on).
func parseRoutes(r io.Reader) ([]Route, error) {
	var out []Route
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 8 {
			continue // the header
		}
		dest, err1 := strconv.ParseUint(f[1], 16, 32)
		mask, err2 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		var d, m [4]byte
		binary.LittleEndian.PutUint32(d[:], uint32(dest))
		binary.LittleEndian.PutUint32(m[:], uint32(mask))
		bits := 0
		for _, b := range m {
			for ; b&0x80 != 0; b <<= 1 {
				bits++
			}
		}
		out = append(out, Route{Dest: netip.PrefixFrom(netip.AddrFrom4(d), bits).Masked(), Iface: f[0]})
	}
	return out, sc.Err()
}

// engineFirstPools is where an engine with the default configuration takes new networks from
// first (172.17.0.0/16 up to 172.31.0.0/16; 192.168.0.0/16 only after those are used up).
var engineFirstPools = netip.MustParsePrefix("172.16.0.0/12")

// hostRoute says whether a route leads somewhere off the engine's own bridges: the LAN, a VPN.
func hostRoute(r Route) bool {
	i := r.Iface
	return r.Dest.Bits() > 0 && i != "lo" && i != "docker0" && !strings.HasPrefix(i, "br-") && !strings.HasPrefix(i, "veth")
}

// checkSubnet looks for what the stack's network would collide with: another network of the
// engine (which refuses to create an overlapping one) and, on Linux with a local engine, the
// host's routes (a VPN or the LAN: addresses there would be unreachable from the stack, which
// is the usual reason a corporate VPN and Docker do not get along).
func checkSubnet(ctx context.Context, env *Env) Result {
	if r, down := engineDown(env); down {
		return r
	}
	p := env.Plan
	list, err := env.Engine.API.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return Result{Status: Skip, Message: "cannot list the engine's networks: " + err.Error()}
	}
	var want netip.Prefix
	if p.Subnet != "" {
		want, err = netip.ParsePrefix(p.Subnet)
		if err != nil {
			return Result{Status: Skip, Message: fmt.Sprintf("%s is not a CIDR range", p.Subnet)}
		}
	}
	want, taken, clash := engineNetworks(list.Items, p.Project+"_default", want, p.Subnet != "")
	seeRoutes := env.Routes != nil && env.GOOS == "linux" && env.Engine.Local
	var routes []Route
	if seeRoutes {
		all, _ := env.Routes() // without the table, only the engine's networks are compared
		for _, r := range all {
			if hostRoute(r) {
				routes = append(routes, r)
				taken = append(taken, r.Dest)
			}
		}
	}
	fix := fmt.Sprintf("give the stack a free range with %s CIDR, for example %s %s", p.Flags.Subnet, p.Flags.Subnet, freeRange(taken))
	r := subnetVerdict(want, clash, routes, fix)
	if !seeRoutes {
		r.Message += " (the engine's networks only: its host's routes are not visible from here)"
	}
	return r
}

// engineNetworks reads the engine's IPv4 networks: every range taken by another network, and
// those the asked-for range overlaps (asked is false when the engine picks). The stack's own
// network (named own) is no clash: on a re-run without --subnet its range is the one to judge.
func engineNetworks(nets []network.Summary, own string, want netip.Prefix, asked bool) (netip.Prefix, []netip.Prefix, []string) {
	var taken []netip.Prefix
	var clash []string
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if !c.Subnet.IsValid() || !c.Subnet.Addr().Is4() {
				continue
			}
			if n.Name == own {
				if !want.IsValid() {
					want = c.Subnet
				}
				continue
			}
			taken = append(taken, c.Subnet)
			if asked && c.Subnet.Overlaps(want) {
				clash = append(clash, fmt.Sprintf("%s (%s)", n.Name, c.Subnet))
			}
		}
	}
	return want, taken, clash
}

// subnetVerdict judges the stack's range (invalid when the engine will pick one) against the
// engine's networks it clashes with and the host's routes.
func subnetVerdict(want netip.Prefix, clash []string, routes []Route, fix string) Result {
	r := Result{Details: map[string]string{}}
	if want.IsValid() {
		r.Details["subnet"] = want.String()
	}
	if len(clash) > 0 {
		r.Status, r.Fix = Fail, fix
		r.Message = fmt.Sprintf("%s overlaps the engine's network %s; the engine refuses to create it", want, strings.Join(clash, ", "))
		return r
	}
	var over []string
	for _, rt := range routes {
		if want.IsValid() && rt.Dest.Overlaps(want) || !want.IsValid() && rt.Dest.Overlaps(engineFirstPools) {
			over = append(over, fmt.Sprintf("%s on %s", rt.Dest, rt.Iface))
		}
	}
	switch {
	case len(over) > 0 && want.IsValid():
		r.Status, r.Fix = Warn, fix
		r.Message = fmt.Sprintf("the stack's network %s overlaps what this machine routes to %s (the LAN or a VPN): "+
			"from the stack those addresses are unreachable", want, strings.Join(over, ", "))
	case len(over) > 0:
		r.Status, r.Fix = Warn, fix
		r.Message = fmt.Sprintf("the engine will pick the stack's network in 172.17.0.0/16–172.31.0.0/16, where this machine routes %s "+
			"(the LAN or a VPN): if it picks that range, those addresses are unreachable from the stack", strings.Join(over, ", "))
	case want.IsValid():
		r.Status, r.Message = Pass, fmt.Sprintf("%s overlaps no other network of the engine and no route of this machine", want)
	default:
		r.Status, r.Message = Pass, "the engine picks the stack's network; no route of this machine is in its first ranges"
	}
	return r
}

// freeRange is a /24 under 10.0.0.0/8 that overlaps none of taken.
func freeRange(taken []netip.Prefix) string {
	for i := 100; i < 256; i++ {
		for j := 0; j < 256; j += 16 {
			c := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), byte(j), 0}), 24)
			free := true
			for _, t := range taken {
				if t.Overlaps(c) {
					free = false
					break
				}
			}
			if free {
				return c.String()
			}
		}
	}
	return "10.123.0.0/24"
}
