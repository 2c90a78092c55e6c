//go:build !linux

package checks

// PortOwner is only implemented on Linux; elsewhere the port check names containers only.
func PortOwner(int) (Proc, bool) { return Proc{}, false }
