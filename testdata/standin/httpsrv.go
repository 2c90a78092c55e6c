package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// withCommon logs each request and, when STANDIN_UNHEALTHY is set or
// STANDIN_READY_AFTER has not elapsed yet, answers every request with 503.
func withCommon(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		if notReady() {
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(rec, "{\"error_code\":50301,\"message\":%q}\n", unhealthyMsg)
		} else {
			h.ServeHTTP(rec, r)
		}
		logf("%s %s %s -> %d", r.RemoteAddr, r.Method, r.URL.RequestURI(), rec.status)
	})
}

// serveHTTP runs an HTTP server on addr until ctx is done.
func serveHTTP(ctx context.Context, addr, what string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: withCommon(h), ReadHeaderTimeout: 10 * time.Second}
	logf("%s listening on http://%s", what, ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// ---------------------------------------------------------------------------
// Schema Registry: an in-memory subject/version store with the REST paths
// that health checks and smoke tests use.

const srContentType = "application/vnd.schemaregistry.v1+json"

type srError struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

type srSchema struct {
	Subject    string `json:"subject"`
	Version    int    `json:"version"`
	ID         int    `json:"id"`
	SchemaType string `json:"schemaType,omitempty"`
	Schema     string `json:"schema"`
}

type schemaRegistry struct {
	mu       sync.Mutex
	ids      map[string]int // schema text -> global id
	byID     map[int]string
	subjects map[string][]srSchema
}

func newSchemaRegistry() *schemaRegistry {
	return &schemaRegistry{ids: map[string]int{}, byID: map[int]string{}, subjects: map[string][]srSchema{}}
}

func (sr *schemaRegistry) handler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, v any) { writeJSON(w, srContentType, 200, v) }
	fail := func(w http.ResponseWriter, status, code int, msg string) {
		writeJSON(w, srContentType, status, srError{ErrorCode: code, Message: msg})
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { ok(w, map[string]any{}) })
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		ok(w, map[string]string{"compatibilityLevel": "BACKWARD"})
	})
	mux.HandleFunc("GET /subjects", func(w http.ResponseWriter, r *http.Request) {
		sr.mu.Lock()
		names := make([]string, 0, len(sr.subjects))
		for s := range sr.subjects {
			names = append(names, s)
		}
		sr.mu.Unlock()
		sort.Strings(names)
		ok(w, names)
	})
	mux.HandleFunc("POST /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Schema     string `json:"schema"`
			SchemaType string `json:"schemaType"`
		}
		data, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err := json.Unmarshal(data, &body); err != nil {
			fail(w, 422, 42201, "Invalid schema: request body is not JSON: "+err.Error())
			return
		}
		if body.Schema == "" {
			fail(w, 422, 42201, "Invalid schema: empty schema")
			return
		}
		if body.SchemaType == "" || body.SchemaType == "AVRO" || body.SchemaType == "JSON" {
			if !json.Valid([]byte(body.Schema)) {
				fail(w, 422, 42201, "Invalid schema: schema is not valid JSON")
				return
			}
		}
		id := sr.register(r.PathValue("subject"), body.Schema, body.SchemaType)
		ok(w, map[string]int{"id": id})
	})
	mux.HandleFunc("GET /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		vs, found := sr.versions(r.PathValue("subject"))
		if !found {
			fail(w, 404, 40401, fmt.Sprintf("Subject '%s' not found.", r.PathValue("subject")))
			return
		}
		ok(w, vs)
	})
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		subject, version := r.PathValue("subject"), r.PathValue("version")
		s, code := sr.get(subject, version)
		switch code {
		case 40401:
			fail(w, 404, code, fmt.Sprintf("Subject '%s' not found.", subject))
		case 40402:
			fail(w, 404, code, fmt.Sprintf("Version %s not found.", version))
		case 42202:
			fail(w, 422, code, fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", version))
		default:
			ok(w, s)
		}
	})
	mux.HandleFunc("DELETE /subjects/{subject}", func(w http.ResponseWriter, r *http.Request) {
		vs, found := sr.delete(r.PathValue("subject"))
		if !found {
			fail(w, 404, 40401, fmt.Sprintf("Subject '%s' not found.", r.PathValue("subject")))
			return
		}
		ok(w, vs)
	})
	mux.HandleFunc("GET /schemas/ids/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		sr.mu.Lock()
		s, found := sr.byID[id]
		sr.mu.Unlock()
		if !found {
			fail(w, 404, 40403, "Schema "+r.PathValue("id")+" not found")
			return
		}
		ok(w, map[string]string{"schema": s})
	})
	return mux
}

// register adds schema under subject and returns its global id; an
// identical schema already under the subject is not added twice.
func (sr *schemaRegistry) register(subject, schema, typ string) int {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	id, ok := sr.ids[schema]
	if !ok {
		id = len(sr.ids) + 1
		sr.ids[schema] = id
		sr.byID[id] = schema
	}
	for _, s := range sr.subjects[subject] {
		if s.ID == id {
			return id
		}
	}
	vs := sr.subjects[subject]
	next := 1
	if len(vs) > 0 {
		next = vs[len(vs)-1].Version + 1
	}
	sr.subjects[subject] = append(vs, srSchema{Subject: subject, Version: next, ID: id, SchemaType: typ, Schema: schema})
	return id
}

func (sr *schemaRegistry) versions(subject string) ([]int, bool) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	vs, ok := sr.subjects[subject]
	if !ok {
		return nil, false
	}
	out := make([]int, 0, len(vs))
	for _, s := range vs {
		out = append(out, s.Version)
	}
	return out, true
}

// get returns the version ("latest" or a number) of subject, or a
// Schema Registry error code.
func (sr *schemaRegistry) get(subject, version string) (srSchema, int) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	vs, ok := sr.subjects[subject]
	if !ok {
		return srSchema{}, 40401
	}
	if version == "latest" || version == "-1" {
		return vs[len(vs)-1], 0
	}
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 {
		return srSchema{}, 42202
	}
	for _, s := range vs {
		if s.Version == n {
			return s, 0
		}
	}
	return srSchema{}, 40402
}

func (sr *schemaRegistry) delete(subject string) ([]int, bool) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	vs, ok := sr.subjects[subject]
	if !ok {
		return nil, false
	}
	delete(sr.subjects, subject)
	out := make([]int, 0, len(vs))
	for _, s := range vs {
		out = append(out, s.Version)
	}
	return out, true
}

func schemaRegistryServe(ctx context.Context) error {
	if err := ensureEnv("SCHEMA_REGISTRY_HOST_NAME"); err != nil {
		return err
	}
	bootstrap := os.Getenv("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS")
	if bootstrap == "" {
		return exitWith(1, "One of these environment variables must be set: SCHEMA_REGISTRY_KAFKASTORE_CONNECTION_URL, SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS\n"+
			"(the stand-in needs SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS)")
	}
	port, err := listenPort(os.Getenv("SCHEMA_REGISTRY_LISTENERS"), 8081)
	if err != nil {
		return exitWith(1, "SCHEMA_REGISTRY_LISTENERS: %v", err)
	}
	if err := waitTCP(ctx, "kafka store", bootstrapAddrs(bootstrap), 60*time.Second); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return exitWith(1, "Timed out waiting for the Kafka store (%s): %v", bootstrap, err)
	}
	auth, err := basicAuthFromEnv("SCHEMA_REGISTRY_", "SCHEMA_REGISTRY_OPTS", os.Getenv)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	return serveHTTP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "schema registry", auth.wrap(newSchemaRegistry().handler()))
}

// ---------------------------------------------------------------------------
// Control Center: a page that says so.

const controlCenterHTML = `<!DOCTYPE html>
<html><head><title>Control Center</title></head>
<body><h1>Confluent Control Center</h1><p>stand-in for end-to-end tests</p></body></html>
`

func controlCenterServe(ctx context.Context) error {
	if err := ensureEnv("CONTROL_CENTER_BOOTSTRAP_SERVERS", "CONTROL_CENTER_REPLICATION_FACTOR"); err != nil {
		return err
	}
	port, err := listenPort(os.Getenv("CONTROL_CENTER_REST_LISTENERS"), 0)
	if err != nil {
		return exitWith(1, "CONTROL_CENTER_REST_LISTENERS: %v", err)
	}
	if port == 0 {
		if port, err = envInt("PORT", 9021); err != nil {
			return exitWith(1, "%v", err)
		}
	}
	if err := waitTCP(ctx, "kafka", bootstrapAddrs(os.Getenv("CONTROL_CENTER_BOOTSTRAP_SERVERS")), 60*time.Second); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return exitWith(1, "Timed out waiting for Kafka (%s): %v", os.Getenv("CONTROL_CENTER_BOOTSTRAP_SERVERS"), err)
	}
	auth, err := basicAuthFromEnv("CONTROL_CENTER_REST_", "CONTROL_CENTER_OPTS", os.Getenv)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, controlCenterHTML)
	})
	return serveHTTP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "control center", auth.wrap(mux))
}
