package model

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{"512m", 512, ""},
		{"2g", 2048, ""},
		{"2G", 2048, ""},
		{" 1536m ", 1536, ""},
		{"2gb", 0, "not a size"},
		{"2", 0, "not a size"},
		{"", 0, "not a size"},
		{"-1g", 0, "more than zero"},
		{"0m", 0, "more than zero"},
		{"1.5g", 0, "not a size"},
		{"+2g", 0, "not a size"},
		{"99999999999g", 0, "too large"},
		{"g", 0, "not a size"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSize(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	t.Parallel()
	for in, want := range map[Size]string{512: "512m", 1024: "1g", 1536: "1536m", 4096: "4g"} {
		if got := in.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", in, got, want)
		}
	}
}

func TestParsePortListenRegistry(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		fn      func(string) (any, error)
		in      string
		wantErr bool
		want    any
	}{
		{func(s string) (any, error) { return ParsePort(s) }, "9092", false, 9092},
		{func(s string) (any, error) { return ParsePort(s) }, "0", true, nil},
		{func(s string) (any, error) { return ParsePort(s) }, "70000", true, nil},
		{func(s string) (any, error) { return ParsePort(s) }, "http", true, nil},
		{func(s string) (any, error) { return ParseListen(s) }, "127.0.0.1", false, "127.0.0.1"},
		{func(s string) (any, error) { return ParseListen(s) }, "::1", false, "[::1]"},
		{func(s string) (any, error) { return ParseListen(s) }, "localhost", true, nil},
		{func(s string) (any, error) { return ParseListen(s) }, "300.1.1.1", true, nil},
		{func(s string) (any, error) { return ParseRegistry(s) }, "127.0.0.1:5000", false, "127.0.0.1:5000"},
		{func(s string) (any, error) { return ParseRegistry(s) }, "mirror.corp/dockerhub/", false, "mirror.corp/dockerhub"},
		{func(s string) (any, error) { return ParseRegistry(s) }, "https://mirror", true, nil},
		{func(s string) (any, error) { return ParseRegistry(s) }, "host:99999", true, nil},
		{func(s string) (any, error) { return ParseRegistry(s) }, "a b", true, nil},
	} {
		got, err := tt.fn(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("parse(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRewriteImage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ reg, ref, want string }{
		{"", "cassandra:5.0.9", "cassandra:5.0.9"},
		{"127.0.0.1:5000", "cassandra:5.0.9", "127.0.0.1:5000/library/cassandra:5.0.9"},
		{"127.0.0.1:5000", "apache/spark:3.5.8", "127.0.0.1:5000/apache/spark:3.5.8"},
	} {
		if got := RewriteImage(tt.reg, tt.ref); got != tt.want {
			t.Errorf("RewriteImage(%q, %q) = %q, want %q", tt.reg, tt.ref, got, tt.want)
		}
	}
}

func TestParseComponents(t *testing.T) {
	t.Parallel()
	got, err := ParseComponents("cassandra, spark")
	if err != nil || strings.Join(got, ",") != "kafka,spark,cassandra" {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := ParseComponents("kafka,flink"); err == nil || !strings.Contains(err.Error(), "unknown component") {
		t.Errorf("unknown component accepted: %v", err)
	}
	if all, _ := ParseComponents("all"); len(all) != len(Components()) {
		t.Errorf("all = %v", all)
	}
}

func TestParseExpose(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"none", "", ""},
		{"zookeeper", "zookeeper", ""},
		{" kafka-jmx , zookeeper,kafka-jmx", "kafka-jmx,zookeeper", ""},
		{"kafka", "", `"kafka" is not a port --expose takes; those are kafka-jmx, zookeeper, spark-ui`},
	} {
		got, err := ParseExpose(tt.in)
		if strings.Join(got, ",") != tt.want || (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("ParseExpose(%q) = %v, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestPublished: admin ports stay off the network unless named; the rest follow --listen.
func TestPublished(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		listen string
		expose []string
		want   string
	}{
		{"127.0.0.1", nil, "kafka,kafka_jmx,zookeeper"},
		{"::1", nil, "kafka,kafka_jmx,zookeeper"},
		{"0.0.0.0", nil, "kafka"},
		{"192.0.2.10", []string{"zookeeper"}, "kafka,zookeeper"},
	} {
		a := DefaultAnswers(EngineResources{NCPU: 2, MemTotal: 8 << 30})
		a.Listen, a.Expose, a.Components = tt.listen, tt.expose, []string{CompKafka}
		var got []string
		for _, p := range PortsOf(&a) {
			got = append(got, p.Key)
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("listen %s, expose %v: publishes %v, want %s", tt.listen, tt.expose, got, tt.want)
		}
	}
}

func TestParseSubnet(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.123.0.0/24":   "10.123.0.0/24",
		" 10.123.0.9/24 ": "10.123.0.0/24",
		"172.30.0.0/16":   "172.30.0.0/16",
		"10.0.0.0/29":     "error",
		"10.0.0.0/7":      "error",
		"127.0.0.0/8":     "error",
		"fd00::/64":       "error",
		"10.0.0.0":        "error",
		"":                "error",
	} {
		got, err := ParseSubnet(in)
		if want == "error" && err == nil || want != "error" && (err != nil || got != want) {
			t.Errorf("ParseSubnet(%q) = %q, %v; want %s", in, got, err, want)
		}
	}
}
