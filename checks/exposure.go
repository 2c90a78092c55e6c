package checks

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// checkExposure lists what a published port on an address other than loopback opens to the
// network, with the authentication each has, and fails when anything would let anyone in
// unless the user accepted that. Off loopback, dataeco guards Kafka, Spark, Schema Registry
// and Control Center with generated credentials, so what is left to fail on are the ports a
// user names in --expose: ZooKeeper, JMX (a known path to code execution), the Spark UI. Users expose the stack to reach it from a second machine, not to hand out
// a shell to everyone on the same Wi-Fi.
func checkExposure(_ context.Context, env *Env) Result {
	var open, unauthenticated []string
	for _, p := range env.Plan.Ports {
		if ip := net.ParseIP(strings.Trim(p.HostIP, "[]")); ip != nil && ip.IsLoopback() {
			continue // empty is every address, as the engine reads it
		}
		auth := p.Auth
		if auth == "" {
			auth = "no authentication"
			unauthenticated = append(unauthenticated, fmt.Sprintf("%s %d", portName(p), p.Port))
		}
		open = append(open, fmt.Sprintf("%s %d (%s)", portName(p), p.Port, auth))
	}
	if len(open) == 0 {
		return Result{Status: Pass, Message: "every port is published on a loopback address: nothing is reachable from other machines"}
	}
	r := Result{Details: map[string]string{"reachable": strings.Join(open, "; ")}}
	switch {
	case len(unauthenticated) == 0:
		r.Status, r.Message = Pass, "reachable from other machines, each with authentication: "+strings.Join(open, "; ")
	case env.Plan.AllowUnauthenticated:
		r.Status = Warn
		r.Message = fmt.Sprintf("reachable from your network by anyone, as %s allows: %s", env.Plan.Flags.AllowUnauthenticated, strings.Join(unauthenticated, ", "))
		r.Fix = fmt.Sprintf("keep it to trusted networks; %s 127.0.0.1 makes the stack private again", env.Plan.Flags.Listen)
	default:
		r.Status = Fail
		r.Message = fmt.Sprintf("reachable from your network with no authentication: %s (anyone who reaches them gets in, with no password)",
			strings.Join(unauthenticated, ", "))
		r.Fix = fmt.Sprintf("leave them out of %s (reach them from elsewhere through an SSH tunnel), publish on loopback with %s 127.0.0.1, or accept it on a trusted network with %s",
			env.Plan.Flags.Expose, env.Plan.Flags.Listen, env.Plan.Flags.AllowUnauthenticated)
	}
	return r
}

func portName(p PortNeed) string {
	if p.What != "" {
		return p.What
	}
	return p.Service
}
