package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const cubUsage = `usage: cub kafka-ready [-b BOOTSTRAP_BROKER_LIST] [-c CONFIG] [-s SECURITY_PROTOCOL] MIN_BROKERS TIMEOUT_SECONDS
(the stand-in cub implements only kafka-ready, over PLAINTEXT)`

type kafkaReadyArgs struct {
	bootstrap  []string
	minBrokers int
	timeout    time.Duration
}

func parseKafkaReadyArgs(args []string) (kafkaReadyArgs, error) {
	var a kafkaReadyArgs
	var pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		flag, val, hasVal := strings.Cut(arg, "=")
		needVal := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", flag)
			}
			i++
			return args[i], nil
		}
		switch flag {
		case "-b", "--bootstrap-servers", "--bootstrap_broker_list":
			v, err := needVal()
			if err != nil {
				return a, err
			}
			a.bootstrap = bootstrapAddrs(v)
		case "-c", "--config":
			if _, err := needVal(); err != nil {
				return a, err
			}
		case "-s", "--security-protocol":
			v, err := needVal()
			if err != nil {
				return a, err
			}
			if !strings.EqualFold(v, "PLAINTEXT") {
				return a, fmt.Errorf("security protocol %s is not supported by the stand-in", v)
			}
		case "-z", "--zookeeper_connect":
			return a, fmt.Errorf("-z (ZooKeeper discovery) is not supported by the stand-in; use -b")
		default:
			if strings.HasPrefix(arg, "-") && len(arg) > 1 {
				return a, fmt.Errorf("unknown option %s", arg)
			}
			pos = append(pos, arg)
		}
	}
	if len(pos) != 2 {
		return a, fmt.Errorf("expected MIN_BROKERS and TIMEOUT_SECONDS, got %d arguments", len(pos))
	}
	if len(a.bootstrap) == 0 {
		return a, fmt.Errorf("-b BOOTSTRAP_BROKER_LIST is required")
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n < 1 {
		return a, fmt.Errorf("MIN_BROKERS %q is not a positive number", pos[0])
	}
	t, err := strconv.ParseFloat(pos[1], 64)
	if err != nil || t < 0 {
		return a, fmt.Errorf("TIMEOUT_SECONDS %q is not a number", pos[1])
	}
	a.minBrokers, a.timeout = n, time.Duration(t*float64(time.Second))
	return a, nil
}

func cubMain(args []string) int {
	if len(args) == 0 || args[0] != "kafka-ready" {
		fmt.Fprintln(os.Stderr, cubUsage)
		return 2
	}
	a, err := parseKafkaReadyArgs(args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cub kafka-ready: %v\n%s\n", err, cubUsage)
		return 2
	}
	if failUnhealthy() {
		return 1
	}
	return kafkaReady(a, os.Stdout, os.Stderr)
}

// kafkaReady asks the bootstrap brokers for metadata until at least
// minBrokers are listed or the timeout passes.
func kafkaReady(a kafkaReadyArgs, stdout, stderr io.Writer) int {
	deadline := time.Now().Add(a.timeout)
	var lastErr error
	found := 0
	var names []string
	for {
		n, hosts, err := countBrokers(a.bootstrap, time.Until(deadline))
		if err == nil {
			found, names = n, hosts
			if n >= a.minBrokers {
				fmt.Fprintf(stdout, "Found %d brokers: %s\n", n, strings.Join(hosts, ", "))
				return 0
			}
		} else {
			lastErr = err
		}
		if time.Now().Add(time.Second).After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if lastErr != nil && found == 0 {
		fmt.Fprintf(stderr, "Expected %d brokers but found only 0. Brokers found []. Last error: %v\n", a.minBrokers, lastErr)
	} else {
		fmt.Fprintf(stderr, "Expected %d brokers but found only %d. Brokers found [%s].\n", a.minBrokers, found, strings.Join(names, ", "))
	}
	return 1
}

func countBrokers(seeds []string, budget time.Duration) (int, []string, error) {
	if budget < time.Second {
		budget = time.Second
	}
	if budget > 5*time.Second {
		budget = 5 * time.Second
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(budget), kgo.RequestRetries(0))
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	var lastErr error
	for _, b := range cl.SeedBrokers() {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{} // brokers only, no topics
		resp, err := b.Request(ctx, req)
		if err != nil {
			lastErr = err
			continue
		}
		md := resp.(*kmsg.MetadataResponse)
		var hosts []string
		for _, br := range md.Brokers {
			hosts = append(hosts, fmt.Sprintf("%d@%s:%d", br.NodeID, br.Host, br.Port))
		}
		return len(md.Brokers), hosts, nil
	}
	return 0, nil, lastErr
}
