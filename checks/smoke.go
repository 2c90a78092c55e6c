package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Smoke check IDs. Each proves a component works, not that a port is open.
const (
	IDSmokeKafka          = "smoke-kafka"
	IDSmokeSchemaRegistry = "smoke-schema-registry"
	IDSmokeCassandra      = "smoke-cassandra"
	IDSmokeSpark          = "smoke-spark"
	IDSmokeAirflow        = "smoke-airflow"
	IDSmokeControlCenter  = "smoke-control-center"
	IDSmokePipeline       = "smoke-pipeline"
)

// SmokeTarget is where the installed stack answers, from this machine, and what it should
// look like. An empty address means the component is not installed: its check is a SKIP.
type SmokeTarget struct {
	Kafka string // host:port of the host listener, or several, comma-separated, for a cluster
	// KafkaBrokers is how many brokers the cluster has; each must answer at the address it
	// advertises. 0 or 1: one broker.
	KafkaBrokers int
	// KafkaUser and KafkaPassword: the SASL/PLAIN login the host listener requires, when set.
	KafkaUser, KafkaPassword string
	SchemaRegistryURL        string
	ControlCenterURL         string
	// Basic-auth logins of Schema Registry and Control Center, when they require one.
	SchemaRegistryLogin, ControlCenterLogin *Login
	Cassandra                               string // host:port
	// CassandraNodes is how many nodes the ring should have; 0 or 1: one.
	CassandraNodes    int
	CassandraUser     string
	CassandraPassword string
	SparkMasterURL    string // the master's web UI, e.g. http://127.0.0.1:9090
	SparkWorkers      int
	SparkWorkerCores  int
	SparkWorkerMemMiB int
	SparkApp          string // the streaming job's application name; empty: not expected
	AirflowURL        string
	AirflowUser       string
	AirflowPassword   string
	Topic             string
	Keyspace          string
	Table             string
	PipelineTimeout   time.Duration
}

// Login is an HTTP basic-auth user and password.
type Login struct{ User, Password string }

// SmokeChecks are run at the end of install and by `dataeco smoke`.
func SmokeChecks() []Check {
	return []Check{
		{IDSmokeKafka, "Kafka produces and consumes", smokeKafka},
		{IDSmokeSchemaRegistry, "Schema Registry stores a schema", smokeSchemaRegistry},
		{IDSmokeCassandra, "Cassandra answers CQL with the generated user", smokeCassandra},
		{IDSmokeSpark, "Spark workers and the streaming job", smokeSpark},
		{IDSmokeAirflow, "Airflow is healthy and has the DAG", smokeAirflow},
		{IDSmokeControlCenter, "Control Center UI", smokeControlCenter},
		{IDSmokePipeline, "A record goes from Kafka to Cassandra", smokePipeline},
	}
}

// localHTTP never uses a proxy: these probes are for this machine's ports only.
func localHTTP() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
}

func notInstalled(what string) Result {
	return Result{Status: Skip, Message: what + " is not part of this install"}
}

func smokeMarker() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "dataeco-smoke-" + hex.EncodeToString(b)
}

func kafkaClient(t *SmokeTarget, opts ...kgo.Opt) (*kgo.Client, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	base := []kgo.Opt{kgo.SeedBrokers(strings.Split(t.Kafka, ",")...), kgo.Dialer(d.DialContext), kgo.RequestRetries(2), kgo.RetryTimeout(10 * time.Second)}
	if t.KafkaUser != "" {
		base = append(base, kgo.SASL(plain.Auth{User: t.KafkaUser, Pass: t.KafkaPassword}.AsMechanism()))
	}
	return kgo.NewClient(append(base, opts...)...)
}

func smokeKafka(ctx context.Context, env *Env) Result {
	t := env.Smoke
	if t == nil || t.Kafka == "" {
		return notInstalled("Kafka")
	}
	fix := "see `dataeco logs broker` and `dataeco doctor --check containers`"
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	topic := smokeMarker()
	cl, err := kafkaClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return Result{Status: Fail, Message: err.Error(), Fix: fix}
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return Result{Status: Fail, Message: fmt.Sprintf("no metadata from %s: %v", t.Kafka, err), Fix: fix}
	}
	replicas, note, res := kafkaCluster(ctx, cl, t, brokers)
	if res != nil {
		return *res
	}
	if _, err := adm.CreateTopic(ctx, 1, int16(replicas), nil, topic); err != nil {
		return Result{Status: Fail, Message: "creating a test topic: " + err.Error(), Fix: fix}
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer dcancel()
		_, _ = adm.DeleteTopics(dctx, topic)
	}()
	want := []byte(topic)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: want}).FirstErr(); err != nil {
		return Result{Status: Fail, Message: "producing: " + err.Error(), Fix: fix}
	}
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		for _, rec := range fetches.Records() {
			if bytes.Equal(rec.Value, want) {
				if note != "" {
					return Result{Status: Warn, Message: note + "; a record went through a temporary topic and back", Fix: fix}
				}
				return Result{Status: Pass, Message: fmt.Sprintf("%s; a record went through a temporary topic and back", plural(len(brokers), "broker"))}
			}
		}
	}
	return Result{Status: Fail, Message: "the produced record was not consumed back within 45s", Fix: fix}
}

// kafkaCluster checks a cluster's brokers: each one in the metadata must answer at the address
// it advertises, which is what a client is sent to (a broker on another node advertises that
// node's address). It gives the replication factor for the test topic (every broker up to
// three) and, when brokers are missing, a note: the cluster works, short of what it should be.
func kafkaCluster(ctx context.Context, cl *kgo.Client, t *SmokeTarget, brokers kadm.BrokerDetails) (int, string, *Result) {
	if t.KafkaBrokers <= 1 {
		return 1, "", nil
	}
	for _, b := range brokers {
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := cl.Broker(int(b.NodeID)).Request(bctx, kmsg.NewPtrApiVersionsRequest())
		cancel()
		if err != nil {
			return 0, "", &Result{Status: Fail, Message: fmt.Sprintf("broker %d does not answer at the address it advertises, %s:%d: %v", b.NodeID, b.Host, b.Port, err),
				Fix: "the broker advertises its swarm node's address (`docker node inspect` shows it); check that this machine reaches it, then `dataeco logs broker-" + fmt.Sprint(b.NodeID) + "`"}
		}
	}
	note := ""
	if len(brokers) < t.KafkaBrokers {
		var missing []string
		for id := int32(1); id <= int32(t.KafkaBrokers); id++ {
			if !slices.ContainsFunc(brokers, func(b kadm.BrokerDetail) bool { return b.NodeID == id }) {
				missing = append(missing, fmt.Sprint(id))
			}
		}
		which := "broker "
		if len(missing) > 1 {
			which = "brokers "
		}
		note = fmt.Sprintf("%d of %d brokers in the cluster, %s missing: topics take writes while a majority of their replicas are in sync (`dataeco status` shows where each broker runs)",
			len(brokers), t.KafkaBrokers, which+strings.Join(missing, ", "))
	}
	return min(3, len(brokers)), note, nil
}

func smokeSchemaRegistry(ctx context.Context, env *Env) Result {
	t := env.Smoke
	if t == nil || t.SchemaRegistryURL == "" {
		return notInstalled("Schema Registry")
	}
	fix := "see `dataeco logs schema-registry`; it needs a healthy broker"
	subject := smokeMarker() + "-value"
	schema := `{"type":"record","name":"Smoke","fields":[{"name":"id","type":"string"}]}`
	body, _ := json.Marshal(map[string]string{"schema": schema})
	var reg struct {
		ID int `json:"id"`
	}
	base := strings.TrimSuffix(t.SchemaRegistryURL, "/") + "/subjects/" + subject
	if err := doJSON(ctx, http.MethodPost, base+"/versions", t.SchemaRegistryLogin.basic(), body, &reg); err != nil {
		return Result{Status: Fail, Message: "registering a schema: " + err.Error(), Fix: fix}
	}
	var got struct {
		Schema string `json:"schema"`
	}
	getErr := doJSON(ctx, http.MethodGet, base+"/versions/latest", t.SchemaRegistryLogin.basic(), nil, &got)
	_ = doJSON(ctx, http.MethodDelete, base, t.SchemaRegistryLogin.basic(), nil, nil)
	_ = doJSON(ctx, http.MethodDelete, base+"?permanent=true", t.SchemaRegistryLogin.basic(), nil, nil)
	if getErr != nil {
		return Result{Status: Fail, Message: "reading the schema back: " + getErr.Error(), Fix: fix}
	}
	if !strings.Contains(got.Schema, `"Smoke"`) {
		return Result{Status: Fail, Message: "the schema read back differs from the one registered", Fix: fix}
	}
	return Result{Status: Pass, Message: fmt.Sprintf("registered, read back and deleted schema id %d", reg.ID)}
}

func cassandraSession(t *SmokeTarget) (*gocql.Session, error) {
	host, portStr, err := net.SplitHostPort(t.Cassandra)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.Authenticator = gocql.PasswordAuthenticator{Username: t.CassandraUser, Password: t.CassandraPassword}
	cluster.ConnectTimeout = 10 * time.Second
	cluster.Timeout = 10 * time.Second
	cluster.NumConns = 1
	// The node announces its container address; from the host only the published port works.
	cluster.AddressTranslator = gocql.AddressTranslatorFunc(func(net.IP, int) (net.IP, int) {
		return net.ParseIP(host), port
	})
	// Of a ring only the first node publishes CQL: the others, at addresses of the stack's
	// network, are left to it (it coordinates every query).
	cluster.DisableInitialHostLookup = true
	cluster.Logger = gocql.NewLogger(gocql.LogLevelNone)
	return cluster.CreateSession()
}

func smokeCassandra(ctx context.Context, env *Env) Result {
	t := env.Smoke
	if t == nil || t.Cassandra == "" {
		return notInstalled("Cassandra")
	}
	s, err := cassandraSession(t)
	if err != nil {
		fix := "see `dataeco logs cassandra`; it can take a minute or two after start"
		if strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "authentication") {
			fix = "the generated credentials do not work: see `dataeco logs cassandra-init` and `dataeco credentials`"
		}
		return Result{Status: Fail, Message: fmt.Sprintf("logging in as %s at %s: %v", t.CassandraUser, t.Cassandra, err), Fix: fix}
	}
	defer s.Close()
	var version string
	if err := s.Query("SELECT release_version FROM system.local").ScanContext(ctx, &version); err != nil {
		return Result{Status: Fail, Message: "querying system.local: " + err.Error(), Fix: "see `dataeco logs cassandra`"}
	}
	var table string
	err = s.Query("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?", t.Keyspace, t.Table).
		ScanContext(ctx, &table)
	if err != nil {
		return Result{Status: Fail, Message: fmt.Sprintf("Cassandra %s answers, but %s.%s is missing (%v)", version, t.Keyspace, t.Table, err),
			Fix: "the schema is created by cassandra-init: see `dataeco logs cassandra-init`, then `dataeco install`"}
	}
	msg := fmt.Sprintf("Cassandra %s, logged in as %s, %s.%s present", version, t.CassandraUser, t.Keyspace, t.Table)
	if t.CassandraNodes > 1 {
		// The ring as this node knows it: the others are its peers.
		peers := 0
		iter := s.Query("SELECT peer FROM system.peers").IterContext(ctx)
		var peer net.IP
		for iter.Scan(&peer) {
			peers++
		}
		if err := iter.Close(); err != nil {
			return Result{Status: Fail, Message: "querying system.peers: " + err.Error(), Fix: "see `dataeco logs cassandra`"}
		}
		if peers+1 < t.CassandraNodes {
			return Result{Status: Warn, Message: fmt.Sprintf("%s; the ring has %d of %d nodes", msg, peers+1, t.CassandraNodes),
				Fix: "a node has not joined: `dataeco status` shows where each runs, `dataeco logs cassandra-N` why"}
		}
		msg += fmt.Sprintf(", %d nodes in the ring", peers+1)
	}
	return Result{Status: Pass, Message: msg}
}

// sparkMaster is the part of the master's /json/ the check reads.
type sparkMaster struct {
	Status  string `json:"status"`
	Workers []struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Cores  int    `json:"cores"`
		Memory int    `json:"memory"`
	} `json:"workers"`
	ActiveApps []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"activeapps"`
}

func smokeSpark(ctx context.Context, env *Env) Result {
	t := env.Smoke
	if t == nil || t.SparkMasterURL == "" {
		return notInstalled("Spark")
	}
	var m sparkMaster
	if err := doJSON(ctx, http.MethodGet, strings.TrimSuffix(t.SparkMasterURL, "/")+"/json/", nil, nil, &m); err != nil {
		return Result{Status: Fail, Message: "reading the master's status: " + err.Error(), Fix: "see `dataeco logs spark-master`"}
	}
	alive := 0
	var wrong []string
	for _, w := range m.Workers {
		if w.State != "ALIVE" {
			continue
		}
		alive++
		if t.SparkWorkerCores > 0 && w.Cores != t.SparkWorkerCores || t.SparkWorkerMemMiB > 0 && w.Memory != t.SparkWorkerMemMiB {
			wrong = append(wrong, fmt.Sprintf("%s offers %d cores/%d MiB", w.ID, w.Cores, w.Memory))
		}
	}
	switch {
	case m.Status != "ALIVE":
		return Result{Status: Fail, Message: "the master is " + m.Status, Fix: "see `dataeco logs spark-master`"}
	case alive < t.SparkWorkers:
		return Result{Status: Fail, Message: fmt.Sprintf("%d of %d workers are ALIVE", alive, t.SparkWorkers), Fix: "see `dataeco logs spark-worker-1`"}
	case len(wrong) > 0:
		return Result{Status: Fail, Message: fmt.Sprintf("workers do not offer %d cores and %d MiB: %s", t.SparkWorkerCores, t.SparkWorkerMemMiB, strings.Join(wrong, "; ")),
			Fix: "run `dataeco install` to apply the answers"}
	}
	if t.SparkApp != "" {
		running := false
		for _, a := range m.ActiveApps {
			if a.Name == t.SparkApp && a.State == "RUNNING" {
				running = true
			}
		}
		if !running {
			return Result{Status: Fail, Message: fmt.Sprintf("%s ALIVE, but the streaming job %s is not RUNNING", plural(alive, "worker"), t.SparkApp),
				Fix: "see `dataeco logs spark-stream`"}
		}
		return Result{Status: Pass, Message: fmt.Sprintf("%s ALIVE with %d cores and %d MiB each; %s RUNNING", plural(alive, "worker"), t.SparkWorkerCores, t.SparkWorkerMemMiB, t.SparkApp)}
	}
	return Result{Status: Pass, Message: fmt.Sprintf("%s ALIVE with %d cores and %d MiB each", plural(alive, "worker"), t.SparkWorkerCores, t.SparkWorkerMemMiB)}
}

func smokeAirflow(ctx context.Context, env *Env) Result {
	t := env.Smoke
	if t == nil || t.AirflowURL == "" {
		return notInstalled("Airflow")
	}
	base := strings.TrimSuffix(t.AirflowURL, "/")
	// Health is a heartbeat younger than Airflow's threshold (30s). A scheduler or DAG
	// processor that PostgreSQL's return has just restarted beats again within seconds, so a
	// stale one is given airflowSettle to do so; a frozen or dead one stays stale and fails.
	deadline := time.Now().Add(airflowSettle)
	for {
		sick, err := airflowSick(ctx, base)
		if err != nil {
			return Result{Status: Fail, Message: "health endpoint: " + err.Error(), Fix: "see `dataeco logs airflow-apiserver`"}
		}
		if len(sick) == 0 {
			break
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return Result{Status: Fail, Message: fmt.Sprintf("not healthy after %s: %s", airflowSettle, strings.Join(sick, ", ")),
				Fix: "see `dataeco logs airflow-scheduler airflow-dag-processor`"}
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	body, _ := json.Marshal(map[string]string{"username": t.AirflowUser, "password": t.AirflowPassword})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(ctx, http.MethodPost, base+"/auth/token", nil, body, &tok); err != nil || tok.AccessToken == "" {
		return Result{Status: Fail, Message: fmt.Sprintf("logging in as %s: %v", t.AirflowUser, err), Fix: "see `dataeco credentials` and `dataeco logs airflow-init`"}
	}
	var dag struct {
		DagID string `json:"dag_id"`
	}
	if err := doJSON(ctx, http.MethodGet, base+"/api/v2/dags/user_automation", bearer(tok.AccessToken), nil, &dag); err != nil {
		return Result{Status: Fail, Message: "user_automation is not registered: " + err.Error(), Fix: "see `dataeco logs airflow-dag-processor`"}
	}
	var importErrors struct {
		ImportErrors []struct {
			Filename   string `json:"filename"`
			StackTrace string `json:"stack_trace"`
		} `json:"import_errors"`
	}
	if err := doJSON(ctx, http.MethodGet, base+"/api/v2/importErrors", bearer(tok.AccessToken), nil, &importErrors); err != nil {
		return Result{Status: Fail, Message: "listing import errors: " + err.Error(), Fix: "see `dataeco logs airflow-apiserver`"}
	}
	for _, ie := range importErrors.ImportErrors {
		if strings.Contains(ie.Filename, "user_automation") || strings.Contains(ie.Filename, "dataeco_users") {
			return Result{Status: Fail, Message: "import error in " + ie.Filename + ": " + firstLineOf(ie.StackTrace), Fix: "see `dataeco logs airflow-dag-processor`"}
		}
	}
	return Result{Status: Pass, Message: "metadatabase, scheduler and dag processor healthy; user_automation registered without import errors"}
}

// airflowSettle is how long the Airflow check waits for stale heartbeats to turn fresh.
const airflowSettle = 45 * time.Second

// airflowSick lists the components Airflow's health endpoint does not call healthy, each with
// the age of its last heartbeat: "scheduler (last heartbeat 48s ago)".
func airflowSick(ctx context.Context, base string) ([]string, error) {
	var health map[string]map[string]*string
	if err := doJSON(ctx, http.MethodGet, base+"/api/v2/monitor/health", nil, nil, &health); err != nil {
		return nil, err
	}
	var sick []string
	for _, comp := range []string{"metadatabase", "scheduler", "dag_processor"} {
		h := health[comp]
		if st := h["status"]; st != nil && *st == "healthy" {
			continue
		}
		if comp == "metadatabase" {
			sick = append(sick, comp)
			continue
		}
		beat := "no heartbeat"
		if at := h["latest_"+comp+"_heartbeat"]; at != nil {
			if ts, err := time.Parse(time.RFC3339Nano, *at); err == nil {
				beat = "last heartbeat " + time.Since(ts).Round(time.Second).String() + " ago"
			}
		}
		sick = append(sick, comp+" ("+beat+")")
	}
	return sick, nil
}

func smokeControlCenter(ctx context.Context, env *Env) Result {
	t := env.Smoke
	if t == nil || t.ControlCenterURL == "" {
		return notInstalled("Control Center")
	}
	if err := doJSON(ctx, http.MethodGet, t.ControlCenterURL, t.ControlCenterLogin.basic(), nil, nil); err != nil {
		return Result{Status: Fail, Message: "the UI does not answer: " + err.Error(), Fix: "see `dataeco logs control-center`"}
	}
	return Result{Status: Pass, Message: "the UI answers at " + t.ControlCenterURL}
}

// smokePipeline puts a marked user on the topic and waits for Spark to write it to Cassandra.
func smokePipeline(ctx context.Context, env *Env) Result {
	t := env.Smoke
	if t == nil || t.Kafka == "" || t.Cassandra == "" || t.SparkApp == "" {
		return notInstalled("The Kafka → Spark → Cassandra pipeline")
	}
	id := newUUID()
	marker := smokeMarker()
	rec, _ := json.Marshal(map[string]string{"id": id, "first_name": marker, "last_name": "smoke", "gender": "n/a",
		"address": "n/a", "post_code": "n/a", "email": marker + "@example.invalid", "username": marker, "dob": "2000-01-01",
		"registered_date": time.Now().UTC().Format(time.RFC3339), "phone": "n/a", "picture": ""})
	cl, err := kafkaClient(t)
	if err != nil {
		return Result{Status: Fail, Message: "not produced: " + err.Error(), Fix: "see `dataeco logs broker`"}
	}
	defer cl.Close()
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = cl.ProduceSync(pctx, &kgo.Record{Topic: t.Topic, Value: rec}).FirstErr()
	cancel()
	if err != nil {
		return Result{Status: Fail, Message: fmt.Sprintf("not produced: %s did not take the record: %v", t.Topic, err), Fix: "see `dataeco logs broker kafka-init`"}
	}
	s, err := cassandraSession(t)
	if err != nil {
		return Result{Status: Fail, Message: "produced, but Cassandra cannot be read: " + err.Error(), Fix: "see `dataeco logs cassandra`"}
	}
	defer s.Close()
	uid, _ := gocql.ParseUUID(id)
	q := fmt.Sprintf("SELECT first_name FROM %s.%s WHERE id = ?", t.Keyspace, t.Table)
	deadline := time.Now().Add(t.PipelineTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var name string
		if err := s.Query(q, uid).ScanContext(ctx, &name); err == nil && name == marker {
			latency := time.Since(start)
			_ = s.Query(fmt.Sprintf("DELETE FROM %s.%s WHERE id = ?", t.Keyspace, t.Table), uid).ExecContext(context.WithoutCancel(ctx))
			return Result{Status: Pass, Message: fmt.Sprintf("a marked user reached %s.%s in %s (then removed)", t.Keyspace, t.Table, latency.Round(100*time.Millisecond)),
				Details: map[string]string{"latency_ms": strconv.FormatInt(latency.Milliseconds(), 10)}}
		}
		// A primary-key read is cheap; a short wait keeps it out of the latency measured.
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Which hop broke: the job not running means nothing consumed the record.
	hop := "not written: the streaming job runs but the row did not arrive"
	fix := "see `dataeco logs spark-stream` (connector or Cassandra write errors)"
	if r := smokeSpark(ctx, env); r.Status == Fail {
		hop, fix = "not consumed: "+r.Message, "see `dataeco logs spark-stream spark-master`"
	}
	return Result{Status: Fail, Message: fmt.Sprintf("produced to %s, but no row in %s.%s after %s; %s", t.Topic, t.Keyspace, t.Table, t.PipelineTimeout, hop), Fix: fix}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// authz sets a request's credentials; nil: none.
type authz func(*http.Request)

func bearer(token string) authz {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// basic is the login's basic auth, or none for a nil login.
func (l *Login) basic() authz {
	if l == nil {
		return nil
	}
	return func(r *http.Request) { r.SetBasicAuth(l.User, l.Password) }
}

// doJSON makes one request to the local stack, decoding a JSON answer into out when given.
func doJSON(ctx context.Context, method, url string, auth authz, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != nil {
		auth(req)
	}
	resp, err := localHTTP().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %d %s", method, url, resp.StatusCode, firstLineOf(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: unexpected answer: %w", url, err)
		}
	}
	return nil
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
