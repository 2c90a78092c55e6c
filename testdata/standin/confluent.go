package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// confluentRunMain is /etc/confluent/docker/run, the CMD of every Confluent
// image; $STANDIN_ROLE says which component this image is.
func confluentRunMain(args []string) int {
	switch role := os.Getenv("STANDIN_ROLE"); role {
	case "zookeeper":
		return runServer(role, "/var/lib/zookeeper/data", zookeeperServe)
	case "broker":
		return runServer(role, "/var/lib/kafka/data", brokerServe)
	case "schema-registry":
		return runServer(role, "/var/lib/schema-registry", schemaRegistryServe)
	case "control-center":
		return runServer(role, "/var/lib/confluent-control-center", controlCenterServe)
	default:
		fmt.Fprintf(os.Stderr, "/etc/confluent/docker/run: STANDIN_ROLE=%q is not a Confluent component\n", role)
		return 1
	}
}

// ---------------------------------------------------------------------------
// ZooKeeper: only the four-letter-word admin commands are spoken.

const zkSrvrReply = "Zookeeper version: 3.8.4-standin\n" +
	"Latency min/avg/max: 0/0/0\n" +
	"Received: 1\n" +
	"Sent: 1\n" +
	"Connections: 1\n" +
	"Outstanding: 0\n" +
	"Zxid: 0x0\n" +
	"Mode: standalone\n" +
	"Node count: 5\n"

// zkReply answers one four-letter word. Only srvr is whitelisted, as in
// Confluent's images.
func zkReply(word string, sick bool) string {
	switch word {
	case "srvr":
		if sick {
			return "This ZooKeeper instance is not currently serving requests\n"
		}
		return zkSrvrReply
	default:
		return word + " is not executed because it is not in the whitelist.\n"
	}
}

func zookeeperServe(ctx context.Context) error {
	if os.Getenv("ZOOKEEPER_CLIENT_PORT") == "" && os.Getenv("ZOOKEEPER_SECURE_CLIENT_PORT") == "" {
		return exitWith(1, "One of these environment variables must be set: ZOOKEEPER_CLIENT_PORT, ZOOKEEPER_SECURE_CLIENT_PORT\n"+
			"Command [/usr/local/bin/dub ensure-atleast-one ZOOKEEPER_CLIENT_PORT ZOOKEEPER_SECURE_CLIENT_PORT] FAILED !")
	}
	port, err := envInt("ZOOKEEPER_CLIENT_PORT", 2181)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	if err := os.MkdirAll("/var/lib/zookeeper/log", 0o755); err != nil {
		logf("warning: %v", err)
	}
	return serveTCP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "zookeeper client port", zkHandler(newZKRegistry()))
}

// zkHandler answers one connection to the client port: a four-letter word, or the brokers'
// registry (kafkacluster.go), which stand-ins alone speak.
func zkHandler(registry *zkRegistry) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// A four-letter word is the first four bytes; real ZooKeeper
		// does not need a newline, so neither do we.
		buf := make([]byte, 4)
		r := bufio.NewReader(c)
		n, err := readFull(r, buf)
		word := strings.TrimSpace(string(buf[:n]))
		if err != nil && n == 0 {
			logf("connection from %s closed without a command", c.RemoteAddr())
			return
		}
		switch word {
		case "sreg":
			c.SetDeadline(time.Time{})
			registry.serveRegistration(c, r)
			return
		case "slst":
			registry.list(c)
			return
		}
		logf("four-letter word %q from %s", word, c.RemoteAddr())
		c.Write([]byte(zkReply(word, notReady())))
	}
}

func readFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
