package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ---------------------------------------------------------------------------
// Pretty JSON as Spark's UI writes it (json4s over Jackson's default pretty
// printer): objects one field per line with "key" : value, arrays inline
// as [ a, b ], empty ones as [ ] and { }. Keys keep their order.

type jfield struct {
	k string
	v any
}

// jobj is an ordered JSON object.
type jobj []jfield

func prettyJSON(v any) string {
	var b strings.Builder
	writePretty(&b, v, 0)
	return b.String()
}

func writePretty(b *strings.Builder, v any, level int) {
	switch x := v.(type) {
	case jobj:
		if len(x) == 0 {
			b.WriteString("{ }")
			return
		}
		b.WriteString("{")
		for i, f := range x {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n" + strings.Repeat("  ", level+1))
			kb, _ := json.Marshal(f.k)
			b.Write(kb)
			b.WriteString(" : ")
			writePretty(b, f.v, level+1)
		}
		b.WriteString("\n" + strings.Repeat("  ", level) + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[ ]")
			return
		}
		b.WriteString("[ ")
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePretty(b, e, level) // arrays do not indent (Jackson's inline array indenter)
		}
		b.WriteString(" ]")
	default:
		jb, err := json.Marshal(x)
		if err != nil {
			jb = []byte("null")
		}
		b.Write(jb)
	}
}

// ---------------------------------------------------------------------------
// Spark entrypoints.

// sparkEntrypointMain is /opt/entrypoint.sh of apache/spark: it runs the
// given command.
func sparkEntrypointMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "/opt/entrypoint.sh: no command given")
		return 1
	}
	return execPassthrough(args)
}

const sparkWorkDir = "/opt/spark/work"

func sparkClassMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "Usage: spark-class <class> [<args>]")
		return 1
	}
	switch args[0] {
	case "org.apache.spark.deploy.master.Master":
		opts, err := parseSparkOpts(args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return runServer("spark-master", sparkWorkDir, func(ctx context.Context) error { return sparkMaster(ctx, opts) })
	case "org.apache.spark.deploy.worker.Worker":
		opts, err := parseSparkOpts(args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return runServer("spark-worker", sparkWorkDir, func(ctx context.Context) error { return sparkWorker(ctx, opts) })
	}
	fmt.Fprintf(os.Stderr, "spark-class: the stand-in does not implement %s\n", args[0])
	return 1
}

type sparkOpts struct {
	host, masterURL, memory string
	port, webuiPort, cores  int
}

// parseSparkOpts reads the command-line options of Master and Worker.
func parseSparkOpts(args []string) (sparkOpts, error) {
	var o sparkOpts
	for i := 0; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		if !strings.HasPrefix(flag, "-") {
			if o.masterURL != "" {
				return o, fmt.Errorf("unexpected argument %q", args[i])
			}
			o.masterURL = args[i]
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return o, fmt.Errorf("option %s needs a value", flag)
			}
			i++
			val = args[i]
		}
		var err error
		switch flag {
		case "--host", "-h", "--ip", "-i":
			o.host = val
		case "--port", "-p":
			o.port, err = strconv.Atoi(val)
		case "--webui-port":
			o.webuiPort, err = strconv.Atoi(val)
		case "--cores", "-c":
			o.cores, err = strconv.Atoi(val)
		case "--memory", "-m":
			o.memory = val
		case "--properties-file", "--work-dir", "-d":
		default:
			return o, fmt.Errorf("unknown option %s", flag)
		}
		if err != nil {
			return o, fmt.Errorf("bad value for %s: %q", flag, val)
		}
	}
	return o, nil
}

// parseSparkMemory converts "1g", "512m", "2048" (MiB) to MiB.
func parseSparkMemory(s string) (int, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSuffix(s, "b")
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1.0/1024, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "t"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid memory size %q", s)
	}
	return int(n * mult), nil
}

// parseSparkMasterURL returns the host:port pairs of spark://h1:p1,h2:p2.
func parseSparkMasterURL(u string) ([]string, error) {
	rest, ok := strings.CutPrefix(u, "spark://")
	if !ok {
		return nil, fmt.Errorf("invalid master URL %q: must start with spark://", u)
	}
	var out []string
	for _, hp := range strings.Split(rest, ",") {
		hp = strings.TrimSuffix(strings.TrimSpace(hp), "/")
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return nil, fmt.Errorf("invalid master URL %q: %v", u, err)
		}
		out = append(out, hp)
	}
	return out, nil
}

// localIP is the container's first non-loopback IPv4 address.
func localIP() string {
	if v := os.Getenv("SPARK_LOCAL_IP"); v != "" {
		return v
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	h, _ := os.Hostname()
	return h
}

// ---------------------------------------------------------------------------
// Master

type sparkWorkerInfo struct {
	ID, Host, WebUI string
	Port, Cores     int
	MemoryMB        int
	LastHeartbeat   time.Time
}

// sparkAppInfo is an application registered by the stand-in spark-submit.
type sparkAppInfo struct {
	ID, Name, User string
	CoresRequested int // 0: as many as the workers have
	MemoryMB       int // per executor
	Start          time.Time
	LastHeartbeat  time.Time
	End            time.Time // zero while active
	State          string    // RUNNING, FINISHED
}

// maxCompletedApps bounds "completedapps", as spark.deploy.retainedApplications does.
const maxCompletedApps = 50

type sparkMasterState struct {
	mu        sync.Mutex
	workers   map[string]*sparkWorkerInfo
	apps      map[string]*sparkAppInfo
	completed []*sparkAppInfo
	appSeq    int
	url       string
	webui     string
	timeout   time.Duration
	auth      sparkAuth
}

func newSparkMasterState(url, webui string) *sparkMasterState {
	return &sparkMasterState{
		workers: map[string]*sparkWorkerInfo{},
		apps:    map[string]*sparkAppInfo{},
		url:     url,
		webui:   webui,
		timeout: 30 * time.Second,
	}
}

// handleLine applies one line of the master RPC protocol and returns the
// answer:
//
//	REGISTER id host cores memoryMB [port [webuiaddress]] -> REGISTERED masterwebuiurl
//	HEARTBEAT id                                          -> OK | UNKNOWN (register again)
//	APP id|- cores memoryMB user name...                  -> APP_REGISTERED appid
//	APP_HEARTBEAT appid                                   -> OK | UNKNOWN (register again)
//	APP_END appid                                         -> OK | UNKNOWN
//
// Worker lines come from the stand-in worker, APP lines from the stand-in
// spark-submit. An APP line with "-" gets a new id (app-yyyyMMddHHmmss-NNNN);
// with an id it (re)registers that application, which is how a driver
// comes back after the master restarted or forgot it.
func (m *sparkMasterState) handleLine(line string, now time.Time) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "ERROR empty command"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	switch strings.ToUpper(f[0]) {
	case "REGISTER":
		if len(f) < 5 {
			return "ERROR usage: REGISTER id host cores memoryMB [port [webuiaddress]]"
		}
		cores, err1 := strconv.Atoi(f[3])
		mem, err2 := strconv.Atoi(f[4])
		if err1 != nil || err2 != nil {
			return "ERROR cores and memoryMB must be numbers"
		}
		w := &sparkWorkerInfo{ID: f[1], Host: f[2], Cores: cores, MemoryMB: mem, LastHeartbeat: now}
		if len(f) > 5 {
			w.Port, _ = strconv.Atoi(f[5])
		}
		if len(f) > 6 {
			w.WebUI = f[6]
		} else {
			w.WebUI = "http://" + net.JoinHostPort(w.Host, "8081")
		}
		m.workers[w.ID] = w
		logf("Registering worker %s:%d with %d cores, %d MiB RAM (%s)", w.Host, w.Port, cores, mem, w.ID)
		return "REGISTERED " + m.webui
	case "HEARTBEAT":
		if len(f) < 2 {
			return "ERROR usage: HEARTBEAT id"
		}
		w, ok := m.workers[f[1]]
		if !ok {
			return "UNKNOWN"
		}
		w.LastHeartbeat = now
		return "OK"
	case "APP":
		if len(f) < 6 {
			return "ERROR usage: APP id|- cores memoryMB user name"
		}
		cores, err1 := strconv.Atoi(f[2])
		mem, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || cores < 0 || mem < 0 {
			return "ERROR cores and memoryMB must be numbers"
		}
		id := f[1]
		if id == "-" {
			id = fmt.Sprintf("app-%s-%04d", now.Format("20060102150405"), m.appSeq)
			m.appSeq++
		}
		app, ok := m.apps[id]
		if !ok {
			app = &sparkAppInfo{ID: id, Start: now, State: "RUNNING"}
			m.apps[id] = app
		}
		app.Name, app.User, app.CoresRequested, app.MemoryMB = strings.Join(f[5:], " "), f[4], cores, mem
		app.LastHeartbeat = now
		if ok {
			logf("Application %s (%s) registered again", app.Name, id)
		} else {
			logf("Registered app %s with ID %s", app.Name, id)
		}
		return "APP_REGISTERED " + id
	case "APP_HEARTBEAT", "APP_END":
		if len(f) < 2 {
			return "ERROR usage: " + strings.ToUpper(f[0]) + " appid"
		}
		app, ok := m.apps[f[1]]
		if !ok {
			return "UNKNOWN"
		}
		app.LastHeartbeat = now
		if strings.ToUpper(f[0]) == "APP_END" {
			logf("Application %s (%s) finished", app.Name, app.ID)
			m.finishApp(app, now)
		}
		return "OK"
	}
	return "ERROR unknown command " + f[0]
}

// finishApp moves an active application to the completed ones.
func (m *sparkMasterState) finishApp(app *sparkAppInfo, now time.Time) {
	delete(m.apps, app.ID)
	app.State, app.End = "FINISHED", now
	m.completed = append(m.completed, app)
	if len(m.completed) > maxCompletedApps {
		m.completed = m.completed[len(m.completed)-maxCompletedApps:]
	}
}

func (m *sparkMasterState) expire(now time.Time) {
	for id, w := range m.workers {
		if now.Sub(w.LastHeartbeat) > m.timeout {
			logf("Removing worker %s because we got no heartbeat in %v", id, m.timeout)
			delete(m.workers, id)
		}
	}
	for _, app := range m.sortedApps() {
		if now.Sub(app.LastHeartbeat) > m.timeout {
			logf("Removing app %s (%s) because we got no heartbeat in %v", app.Name, app.ID, m.timeout)
			m.finishApp(app, now)
		}
	}
}

// sortedApps lists the active applications oldest first.
func (m *sparkMasterState) sortedApps() []*sparkAppInfo {
	apps := make([]*sparkAppInfo, 0, len(m.apps))
	for _, a := range m.apps {
		apps = append(apps, a)
	}
	sort.Slice(apps, func(i, j int) bool {
		if !apps[i].Start.Equal(apps[j].Start) {
			return apps[i].Start.Before(apps[j].Start)
		}
		return apps[i].ID < apps[j].ID
	})
	return apps
}

// appJSON renders one application as the master's JSON does (Spark's
// JsonProtocol.writeApplicationInfo).
func appJSON(a *sparkAppInfo, granted int, now time.Time) jobj {
	end := now
	if !a.End.IsZero() {
		end = a.End
	}
	return jobj{
		{"id", a.ID},
		{"starttime", a.Start.UnixMilli()},
		{"name", a.Name},
		{"cores", granted},
		{"user", a.User},
		{"memoryperexecutor", a.MemoryMB},
		{"memoryperslave", a.MemoryMB},
		{"resourcesperexecutor", []any{}},
		{"resourcesperslave", []any{}},
		{"submitdate", a.Start.Format("Mon Jan 02 15:04:05 MST 2006")}, // java.util.Date.toString
		{"state", a.State},
		{"duration", end.Sub(a.Start).Milliseconds()},
	}
}

// json renders GET /json/ of the master.
func (m *sparkMasterState) json(now time.Time) string {
	m.mu.Lock()
	m.expire(now)
	ids := make([]string, 0, len(m.workers))
	for id := range m.workers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	cores, mem := 0, 0
	for _, id := range ids {
		cores += m.workers[id].Cores
		mem += m.workers[id].MemoryMB
	}
	// Cores are granted to applications oldest first: each gets what it
	// asked for (everything left when it asked for nothing) while it lasts.
	activeApps, completedApps := []any{}, []any{}
	free := cores
	for _, a := range m.sortedApps() {
		g := free
		if a.CoresRequested > 0 && a.CoresRequested < g {
			g = a.CoresRequested
		}
		free -= g
		activeApps = append(activeApps, appJSON(a, g, now))
	}
	for i := len(m.completed) - 1; i >= 0; i-- {
		completedApps = append(completedApps, appJSON(m.completed[i], 0, now))
	}
	used := cores - free
	workers := []any{}
	for _, id := range ids {
		w := m.workers[id]
		wu := min(used, w.Cores)
		used -= wu
		workers = append(workers, jobj{
			{"id", w.ID}, {"host", w.Host}, {"port", w.Port}, {"webuiaddress", w.WebUI},
			{"cores", w.Cores}, {"coresused", wu}, {"coresfree", w.Cores - wu},
			{"memory", w.MemoryMB}, {"memoryused", 0}, {"memoryfree", w.MemoryMB},
			{"resources", jobj{}}, {"resourcesused", jobj{}}, {"resourcesfree", jobj{}},
			{"state", "ALIVE"}, {"lastheartbeat", w.LastHeartbeat.UnixMilli()},
		})
	}
	m.mu.Unlock()
	return prettyJSON(jobj{
		{"url", m.url},
		{"workers", workers},
		{"aliveworkers", len(workers)},
		{"cores", cores},
		{"coresused", cores - free},
		{"memory", mem},
		{"memoryused", 0},
		{"resources", []any{}},
		{"resourcesused", []any{}},
		{"activeapps", activeApps},
		{"completedapps", completedApps},
		{"activedrivers", []any{}},
		{"completeddrivers", []any{}},
		{"status", "ALIVE"},
	})
}

// serveConn answers the RPC lines of one connection until it closes or is
// idle for two minutes.
func (m *sparkMasterState) serveConn(c net.Conn) {
	defer c.Close()
	logf("rpc connection from %s", c.RemoteAddr())
	sc := bufio.NewScanner(c)
	if !m.auth.serverAuth(c, sc) {
		return
	}
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		if !sc.Scan() {
			return
		}
		reply := m.handleLine(sc.Text(), time.Now())
		if !strings.HasPrefix(reply, "OK") {
			logf("rpc %s: %q -> %q", c.RemoteAddr(), sc.Text(), reply)
		}
		if _, err := io.WriteString(c, reply+"\n"); err != nil {
			return
		}
	}
}

func sparkMaster(ctx context.Context, o sparkOpts) error {
	host := o.host
	if host == "" {
		host = os.Getenv("SPARK_MASTER_HOST")
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	var err error
	if o.port == 0 {
		if o.port, err = envInt("SPARK_MASTER_PORT", 7077); err != nil {
			return exitWith(1, "%v", err)
		}
	}
	if o.webuiPort == 0 {
		if o.webuiPort, err = envInt("SPARK_MASTER_WEBUI_PORT", 8080); err != nil {
			return exitWith(1, "%v", err)
		}
	}
	public := envOr("SPARK_PUBLIC_DNS", host)
	m := newSparkMasterState(fmt.Sprintf("spark://%s:%d", host, o.port), fmt.Sprintf("http://%s:%d", public, o.webuiPort))
	if m.auth, err = sparkAuthFrom(os.Getenv, nil, "SPARK_DAEMON_JAVA_OPTS", "SPARK_MASTER_OPTS"); err != nil {
		return exitWith(1, "%v", err)
	}
	if m.auth.on {
		logf("SecurityManager: authentication enabled; RPC clients must present the shared secret")
	}
	logf("Starting Spark master at %s", m.url)
	errc := make(chan error, 2)
	go func() {
		errc <- serveTCP(ctx, fmt.Sprintf("0.0.0.0:%d", o.port), "spark master rpc", m.serveConn)
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /json/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		io.WriteString(w, m.json(time.Now()))
	})
	mux.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/json/", http.StatusFound)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Spark Master at %s</title></head><body><h3>Spark Master at %s</h3><pre>%s</pre></body></html>\n", m.url, m.url, m.json(time.Now()))
	})
	go func() { errc <- serveHTTP(ctx, fmt.Sprintf("0.0.0.0:%d", o.webuiPort), "spark master web UI", mux) }()
	logf("I have been elected leader! New state: ALIVE")
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// ---------------------------------------------------------------------------
// Worker

type sparkWorkerState struct {
	mu            sync.Mutex
	id, masterURL string
	masterWebUI   string
	cores, memory int
}

func (w *sparkWorkerState) json() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return prettyJSON(jobj{
		{"id", w.id},
		{"masterurl", w.masterURL},
		{"masterwebuiurl", w.masterWebUI},
		{"cores", w.cores},
		{"coresused", 0},
		{"memory", w.memory},
		{"memoryused", 0},
		{"resources", jobj{}},
		{"resourcesused", jobj{}},
		{"executors", []any{}},
		{"finishedexecutors", []any{}},
	})
}

func sparkWorker(ctx context.Context, o sparkOpts) error {
	if o.masterURL == "" {
		return exitWith(1, "Usage: Worker [options] <master>")
	}
	masters, err := parseSparkMasterURL(o.masterURL)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	if o.cores == 0 {
		if o.cores, err = envInt("SPARK_WORKER_CORES", 1); err != nil {
			return exitWith(1, "%v", err)
		}
	}
	if o.memory == "" {
		o.memory = envOr("SPARK_WORKER_MEMORY", "1g")
	}
	memMB, err := parseSparkMemory(o.memory)
	if err != nil {
		return exitWith(1, "SPARK_WORKER_MEMORY: %v", err)
	}
	if o.webuiPort == 0 {
		if o.webuiPort, err = envInt("SPARK_WORKER_WEBUI_PORT", 8081); err != nil {
			return exitWith(1, "%v", err)
		}
	}
	if o.port == 0 {
		if o.port, err = envInt("SPARK_WORKER_PORT", 0); err != nil {
			return exitWith(1, "%v", err)
		}
	}
	host := o.host
	if host == "" {
		host = localIP()
	}
	rpc, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", o.port))
	if err != nil {
		return err
	}
	port := rpc.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := rpc.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	go func() { <-ctx.Done(); rpc.Close() }()

	w := &sparkWorkerState{
		id:        fmt.Sprintf("worker-%s-%s-%d", time.Now().Format("20060102150405"), host, port),
		masterURL: o.masterURL,
		cores:     o.cores,
		memory:    memMB,
	}
	webui := "http://" + net.JoinHostPort(envOr("SPARK_PUBLIC_DNS", host), strconv.Itoa(o.webuiPort))
	logf("Starting Spark worker %s:%d with %d cores, %d MiB RAM", host, port, o.cores, memMB)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /json/{$}", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json;charset=utf-8")
		io.WriteString(rw, w.json())
	})
	mux.HandleFunc("GET /json", func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, "/json/", http.StatusFound)
	})
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html;charset=utf-8")
		fmt.Fprintf(rw, "<!DOCTYPE html>\n<html><head><title>Spark Worker at %s:%d</title></head><body><pre>%s</pre></body></html>\n", host, port, w.json())
	})
	errc := make(chan error, 1)
	go func() { errc <- serveHTTP(ctx, fmt.Sprintf("0.0.0.0:%d", o.webuiPort), "spark worker web UI", mux) }()

	auth, err := sparkAuthFrom(os.Getenv, nil, "SPARK_DAEMON_JAVA_OPTS", "SPARK_WORKER_OPTS")
	if err != nil {
		return exitWith(1, "%v", err)
	}
	register := fmt.Sprintf("REGISTER %s %s %d %d %d %s", w.id, host, o.cores, memMB, port, webui)
	go workerLoop(ctx, w, masters, register, auth)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// workerLoop keeps the worker registered: it (re)connects to a master every
// 2 s until registration succeeds, then heartbeats every 5 s, and starts
// over when the master stops answering or forgets the worker.
func workerLoop(ctx context.Context, w *sparkWorkerState, masters []string, register string, auth sparkAuth) {
	attempt := 0
	for ctx.Err() == nil {
		addr := masters[attempt%len(masters)]
		attempt++
		err := func() error {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			go func() { <-ctx.Done(); c.Close() }()
			r := bufio.NewReader(c)
			if err := auth.clientAuth(c, r); err != nil {
				return err
			}
			ask := func(line string) (string, error) {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, line+"\n"); err != nil {
					return "", err
				}
				reply, err := r.ReadString('\n')
				return strings.TrimSpace(reply), err
			}
			reply, err := ask(register)
			if err != nil {
				return err
			}
			webui, ok := strings.CutPrefix(reply, "REGISTERED ")
			if !ok {
				return fmt.Errorf("master refused registration: %s", sparkReplyError(reply))
			}
			w.mu.Lock()
			w.masterWebUI = webui
			w.mu.Unlock()
			logf("Successfully registered with master spark://%s (web UI %s)", addr, webui)
			attempt = 0
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(5 * time.Second):
				}
				reply, err := ask("HEARTBEAT " + w.id)
				if err != nil {
					return err
				}
				if reply != "OK" {
					return fmt.Errorf("master answered %q to a heartbeat", reply)
				}
			}
		}()
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		registered := w.masterWebUI != ""
		w.masterWebUI = ""
		w.mu.Unlock()
		if registered {
			logf("Connection to master %s lost: %v; registering again", addr, err)
		} else {
			logf("Failed to connect to master %s: %v; retrying in 2 s", addr, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}
