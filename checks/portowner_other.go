//go:build !linux

package checks

// PortOwner is only implemented on Linux; elsewhere the port check names containers only.
func PortOwner(int) (Proc, bool) { return Proc{}, false }

// EphemeralPorts gives the range macOS and Windows draw outgoing connections' local ports
// from unless an administrator changed it (IANA's dynamic range, the default of both).
func EphemeralPorts() (lo, hi int, ok bool) { return 49152, 65535, true }
