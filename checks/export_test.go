package checks

// RealServers lets the tests of package checks_test, which drive the installer's commands,
// find the real stack the same way this package's tests do.
var RealServers = realServers
