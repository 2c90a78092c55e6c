package model

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Size is an amount of memory in MiB. It is written the way the JVM and Spark read it
// ("512m", "2g"), so a rendered value can go straight into -Xmx or SPARK_WORKER_MEMORY.
type Size int64

// ParseSize reads a positive memory size with an m or g suffix. It refuses "2gb" and bare
// numbers on purpose: the JVM and Spark read those differently, and a silent guess would
// start a service with the wrong heap.
func ParseSize(s string) (Size, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if len(t) < 2 {
		return 0, fmt.Errorf("%q is not a size: use a whole number followed by m or g", s)
	}
	unit := t[len(t)-1]
	num := t[:len(t)-1]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || (unit != 'm' && unit != 'g') || strings.HasPrefix(num, "+") {
		return 0, fmt.Errorf("%q is not a size: use a whole number followed by m or g", s)
	}
	if n <= 0 {
		return 0, fmt.Errorf("%q must be more than zero", s)
	}
	if unit == 'g' {
		if n > 1<<20 {
			return 0, fmt.Errorf("%q is too large", s)
		}
		n *= 1024
	}
	if n > 1<<30 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(n), nil
}

// String renders the size in g when it is a whole number of GiB, else in m.
func (s Size) String() string {
	if s > 0 && s%1024 == 0 {
		return fmt.Sprintf("%dg", s/1024)
	}
	return fmt.Sprintf("%dm", int64(s))
}

// MarshalText makes sizes readable in the answers file.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText validates sizes read back from the answers file.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParsePort reads a TCP port a host can publish: 1 to 65535.
func ParsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d is outside 1-65535", n)
	}
	return n, nil
}

// ParseListen reads the address published ports bind to. Only IP literals are taken: a host
// name could resolve to something other than what the user meant to expose.
func ParseListen(s string) (string, error) {
	ip := net.ParseIP(strings.TrimSpace(s))
	if ip == nil {
		return "", fmt.Errorf("%q is not an IP address", s)
	}
	if ip.To4() == nil {
		// Compose's port syntax needs brackets around IPv6 addresses.
		return "[" + ip.String() + "]", nil
	}
	return ip.String(), nil
}

// ParseSubnet reads the stack network's address range: an IPv4 CIDR from /8 to /28 (room
// for the stack's containers), written as its network address.
func ParseSubnet(s string) (string, error) {
	_, n, err := net.ParseCIDR(strings.TrimSpace(s))
	if err != nil || n.IP.To4() == nil {
		return "", fmt.Errorf("%q is not an IPv4 range in CIDR form, like 10.123.0.0/24", s)
	}
	if ones, _ := n.Mask.Size(); ones < 8 || ones > 28 {
		return "", fmt.Errorf("%s is /%d; give a range from /8 to /28", n, ones)
	}
	if ip := n.IP.To4(); ip.IsLoopback() || ip.IsMulticast() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() {
		return "", fmt.Errorf("%s cannot be a container network", n)
	}
	return n.String(), nil
}

var hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*$`)

// ParseHost reads a host other machines reach this one by: a DNS name or an IP address.
func ParseHost(s string) (string, error) {
	t := strings.TrimSpace(s)
	if ip := net.ParseIP(strings.Trim(t, "[]")); ip != nil {
		if ip.IsUnspecified() {
			return "", fmt.Errorf("%q is no address a client can connect to: give this machine's name or IP", s)
		}
		if ip.To4() == nil {
			return "[" + ip.String() + "]", nil
		}
		return ip.String(), nil
	}
	if len(t) > 253 || !hostnameRE.MatchString(t) {
		return "", fmt.Errorf("%q is not a host name or IP address", s)
	}
	return strings.ToLower(t), nil
}

var registryRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

// ParseRegistry reads HOST[:PORT][/PATH], the prefix every image reference is rewritten under.
func ParseRegistry(s string) (string, error) {
	r := strings.TrimSuffix(strings.TrimSpace(s), "/")
	if r == "" {
		return "", nil
	}
	if strings.Contains(r, "://") {
		return "", fmt.Errorf("%q has a scheme: give HOST[:PORT] only", s)
	}
	if !registryRE.MatchString(r) {
		return "", fmt.Errorf("%q is not HOST[:PORT][/PATH]", s)
	}
	if host, port, err := net.SplitHostPort(strings.SplitN(r, "/", 2)[0]); err == nil && host != "" {
		if _, err := ParsePort(port); err != nil {
			return "", fmt.Errorf("%q: %v", s, err)
		}
	}
	return r, nil
}

// RewriteImage puts ref under registry the way registry mirrors lay images out: Docker Hub
// official images gain the library/ prefix.
func RewriteImage(registry, ref string) string {
	if registry == "" {
		return ref
	}
	if !strings.Contains(strings.SplitN(ref, ":", 2)[0], "/") {
		ref = "library/" + ref
	}
	return registry + "/" + ref
}
