package main

// Authentication, as the real servers are configured for it by their images' environment,
// so that an install whose ports are reachable from the network is tested for refusing
// strangers:
//   - Kafka: SASL/PLAIN on a listener mapped to SASL_PLAINTEXT, users from the listener's
//     JAAS config (user_NAME="PASSWORD"), as Kafka's PlainLoginModule reads them;
//   - Schema Registry and Control Center: HTTP basic auth when *_AUTHENTICATION_METHOD is
//     BASIC, users from the Jetty property file named by the JAAS file of *_OPTS;
//   - Spark: spark.authenticate with a shared secret (-D options of SPARK_DAEMON_JAVA_OPTS,
//     SPARK_MASTER_OPTS, SPARK_WORKER_OPTS, SPARK_SUBMIT_OPTS, or --conf), proved on the
//     stand-in's line protocol by an HMAC of a challenge, never sent as it is.

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ---------------------------------------------------------------------------
// Kafka SASL/PLAIN

var jaasUserRe = regexp.MustCompile(`user_([^\s=]+)\s*=\s*"([^"]*)"`)

// kafkaPlainUsers reads the users a SASL_PLAINTEXT listener accepts from its
// listener-prefixed settings (KAFKA_LISTENER_NAME_<NAME>_…), falling back to the
// broker-wide ones, and fails like the broker when PLAIN is not enabled or no JAAS
// config names any user.
func kafkaPlainUsers(listener string, getenv func(string) string) (map[string]string, error) {
	prefix := "KAFKA_LISTENER_NAME_" + strings.ToUpper(listener) + "_"
	mechs := getenv(prefix + "SASL_ENABLED_MECHANISMS")
	if mechs == "" {
		mechs = getenv("KAFKA_SASL_ENABLED_MECHANISMS")
	}
	if mechs == "" {
		mechs = "GSSAPI" // Kafka's default
	}
	if !slices.Contains(strings.Split(strings.ToUpper(strings.ReplaceAll(mechs, " ", "")), ","), "PLAIN") {
		return nil, fmt.Errorf("listener %s: enabled SASL mechanisms %q; the stand-in speaks PLAIN only", listener, mechs)
	}
	jaas := getenv(prefix + "PLAIN_SASL_JAAS_CONFIG")
	if jaas == "" {
		jaas = getenv("KAFKA_SASL_JAAS_CONFIG")
	}
	if !strings.Contains(jaas, "PlainLoginModule") {
		return nil, fmt.Errorf("Could not find a 'KafkaServer' or '%s.KafkaServer' entry in the JAAS configuration. System property 'java.security.auth.login.config' is not set",
			strings.ToLower(listener))
	}
	users := map[string]string{}
	for _, m := range jaasUserRe.FindAllStringSubmatch(jaas, -1) {
		users[m[1]] = m[2]
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("listener %s: the PLAIN JAAS config names no user_NAME=\"PASSWORD\"", listener)
	}
	return users, nil
}

// kafkaRequestHeader splits a request frame: key, version, correlation ID, and where the
// body starts (after the client ID and, for flexible versions, the tagged fields).
func kafkaRequestHeader(frame []byte) (key, ver int16, corr int32, bodyAt int, err error) {
	if len(frame) < 10 {
		return 0, 0, 0, 0, errors.New("short request")
	}
	key, ver = int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:]))
	corr = int32(binary.BigEndian.Uint32(frame[4:]))
	off := 8
	if n := int16(binary.BigEndian.Uint16(frame[off:])); n > 0 {
		off += int(n)
	}
	off += 2
	req := kmsg.RequestForKey(key)
	if req == nil {
		return key, ver, corr, off, nil
	}
	req.SetVersion(ver)
	if req.IsFlexible() && key != 18 { // ApiVersions keeps the old header
		num, n := binary.Uvarint(frame[off:])
		if n <= 0 {
			return 0, 0, 0, 0, errors.New("bad tag count")
		}
		off += n
		for range num {
			_, n := binary.Uvarint(frame[off:])
			if n <= 0 {
				return 0, 0, 0, 0, errors.New("bad tag")
			}
			off += n
			sz, n := binary.Uvarint(frame[off:])
			if n <= 0 {
				return 0, 0, 0, 0, errors.New("bad tag size")
			}
			off += n + int(sz)
		}
	}
	if off > len(frame) {
		return 0, 0, 0, 0, errors.New("short request header")
	}
	return key, ver, corr, off, nil
}

// kafkaResponse frames a response the proxy answers itself.
func kafkaResponse(corr int32, resp kmsg.Response) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(corr))
	if resp.IsFlexible() {
		out = append(out, 0) // no tagged fields in the header
	}
	return resp.AppendTo(out)
}

// kafkaSASLPlain runs the SASL exchange of a SASL_PLAINTEXT listener before the
// connection is relayed: ApiVersions goes to kfake, SaslHandshake and SaslAuthenticate are
// answered here, anything else first ends the connection, as the broker does.
func kafkaSASLPlain(client net.Conn, server net.Conn, users map[string]string, m nodeMap) (string, error) {
	client.SetDeadline(time.Now().Add(30 * time.Second))
	defer client.SetDeadline(time.Time{})
	handshake := false
	for {
		frame, err := readKafkaFrame(client)
		if err != nil {
			return "", err
		}
		key, ver, corr, bodyAt, err := kafkaRequestHeader(frame)
		if err != nil {
			return "", err
		}
		switch key {
		case 18: // ApiVersions: what kfake supports, SASL included
			if err := writeKafkaFrame(server, rewriteKafkaRequest(frame, m)); err != nil {
				return "", err
			}
			resp, err := readKafkaFrame(server)
			if err != nil {
				return "", err
			}
			if err := writeKafkaFrame(client, resp); err != nil {
				return "", err
			}
		case 17: // SaslHandshake
			req := kmsg.NewPtrSASLHandshakeRequest()
			req.SetVersion(ver)
			if err := req.ReadFrom(frame[bodyAt:]); err != nil {
				return "", err
			}
			resp := kmsg.NewPtrSASLHandshakeResponse()
			resp.SetVersion(ver)
			resp.SupportedMechanisms = []string{"PLAIN"}
			if req.Mechanism != "PLAIN" {
				resp.ErrorCode = 33 // UNSUPPORTED_SASL_MECHANISM
			}
			if err := writeKafkaFrame(client, kafkaResponse(corr, resp)); err != nil {
				return "", err
			}
			if resp.ErrorCode != 0 {
				return "", fmt.Errorf("SASL mechanism %q is not enabled", req.Mechanism)
			}
			if ver == 0 {
				return "", errors.New("SaslHandshake v0 (raw SASL tokens) is not spoken by the stand-in")
			}
			handshake = true
		case 36: // SaslAuthenticate
			if !handshake {
				return "", errors.New("SaslAuthenticate before SaslHandshake")
			}
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.SetVersion(ver)
			if err := req.ReadFrom(frame[bodyAt:]); err != nil {
				return "", err
			}
			resp := kmsg.NewPtrSASLAuthenticateResponse()
			resp.SetVersion(ver)
			// PLAIN: authzid NUL authcid NUL password
			parts := strings.Split(string(req.SASLAuthBytes), "\x00")
			user := ""
			ok := len(parts) == 3
			if ok {
				user = parts[1]
				want, known := users[user]
				ok = known && subtle.ConstantTimeCompare([]byte(want), []byte(parts[2])) == 1
			}
			if !ok {
				resp.ErrorCode = 58 // SASL_AUTHENTICATION_FAILED
				msg := "Authentication failed: Invalid username or password"
				resp.ErrorMessage = &msg
			}
			if err := writeKafkaFrame(client, kafkaResponse(corr, resp)); err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("SASL/PLAIN authentication of %q failed", user)
			}
			return user, nil
		default:
			return "", fmt.Errorf("unexpected Kafka request of type %d during SASL handshake", key)
		}
	}
}

// ---------------------------------------------------------------------------
// HTTP basic auth (Schema Registry, Control Center)

var jaasFileRe = regexp.MustCompile(`file\s*=\s*"([^"]+)"`)

// basicAuthFromEnv reads the basic-auth settings of a Confluent REST server: prefix is
// SCHEMA_REGISTRY_ or CONTROL_CENTER_REST_, optsVar the launcher variable that carries
// -Djava.security.auth.login.config. nil when authentication is off.
func basicAuthFromEnv(prefix, optsVar string, getenv func(string) string) (*basicAuth, error) {
	method := strings.ToUpper(getenv(prefix + "AUTHENTICATION_METHOD"))
	switch method {
	case "", "NONE":
		return nil, nil
	case "BASIC":
	default:
		return nil, fmt.Errorf("%sAUTHENTICATION_METHOD=%s: the stand-in speaks BASIC only", prefix, method)
	}
	realm := getenv(prefix + "AUTHENTICATION_REALM")
	if realm == "" {
		return nil, fmt.Errorf("%sAUTHENTICATION_REALM is required with BASIC", prefix)
	}
	var jaasPath string
	for _, f := range strings.Fields(getenv(optsVar)) {
		if v, ok := strings.CutPrefix(f, "-Djava.security.auth.login.config="); ok {
			jaasPath = v
		}
	}
	if jaasPath == "" {
		return nil, fmt.Errorf("BASIC authentication needs -Djava.security.auth.login.config in %s", optsVar)
	}
	jaas, err := os.ReadFile(jaasPath)
	if err != nil {
		return nil, err
	}
	// The realm's entry: `REALM { … PropertyFileLoginModule required file="…"; };`
	i := strings.Index(string(jaas), realm)
	if i < 0 {
		return nil, fmt.Errorf("No LoginModules configured for %s (in %s)", realm, jaasPath)
	}
	entry := string(jaas[i:])
	if j := strings.Index(entry, "};"); j >= 0 {
		entry = entry[:j]
	}
	m := jaasFileRe.FindStringSubmatch(entry)
	if !strings.Contains(entry, "PropertyFileLoginModule") || m == nil {
		return nil, fmt.Errorf("%s: the stand-in reads Jetty's PropertyFileLoginModule with a file=\"…\" only", jaasPath)
	}
	props, err := os.ReadFile(m[1])
	if err != nil {
		return nil, err
	}
	a := &basicAuth{realm: realm, users: map[string]basicUser{}}
	for _, r := range strings.Split(getenv(prefix+"AUTHENTICATION_ROLES"), ",") {
		if r = strings.TrimSpace(r); r != "" && r != "*" {
			a.roles = append(a.roles, r)
		}
	}
	for _, line := range strings.Split(string(props), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Split(rest, ",")
		u := basicUser{password: strings.TrimSpace(fields[0])}
		for _, r := range fields[1:] {
			u.roles = append(u.roles, strings.TrimSpace(r))
		}
		a.users[strings.TrimSpace(user)] = u
	}
	logf("HTTP basic authentication on, realm %s, %d user(s)", realm, len(a.users))
	return a, nil
}

type basicUser struct {
	password string
	roles    []string
}

type basicAuth struct {
	realm string
	roles []string // one of them is needed; none: any user
	users map[string]basicUser
}

// wrap answers 401 to a request without a known user, its password and one of the roles.
func (a *basicAuth) wrap(h http.Handler) http.Handler {
	if a == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		u, known := a.users[user]
		ok = ok && known && subtle.ConstantTimeCompare([]byte(u.password), []byte(pass)) == 1
		if ok && len(a.roles) > 0 {
			ok = slices.ContainsFunc(u.roles, func(r string) bool { return slices.Contains(a.roles, r) })
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.realm))
			writeJSON(w, "application/json", http.StatusUnauthorized, map[string]any{"error_code": 401, "message": "Unauthorized"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ---------------------------------------------------------------------------
// Spark authentication

// sparkAuth is spark.authenticate and its secret.
type sparkAuth struct {
	on     bool
	secret string
}

// sparkAuthFrom reads spark.authenticate and spark.authenticate.secret from -D options in
// the named launcher variables, then conf (--conf of spark-submit) over them; the secret
// may also come from _SPARK_AUTH_SECRET, as executors get it. On without a secret is the
// real error.
func sparkAuthFrom(getenv func(string) string, conf map[string]string, optsVars ...string) (sparkAuth, error) {
	props := map[string]string{}
	for _, v := range optsVars {
		for _, f := range strings.Fields(getenv(v)) {
			if kv, ok := strings.CutPrefix(f, "-D"); ok {
				if k, val, ok := strings.Cut(kv, "="); ok {
					props[k] = val
				}
			}
		}
	}
	for k, v := range conf {
		props[k] = v
	}
	var a sparkAuth
	a.on = strings.EqualFold(props["spark.authenticate"], "true")
	a.secret = props["spark.authenticate.secret"]
	if a.secret == "" {
		a.secret = getenv("_SPARK_AUTH_SECRET")
	}
	if a.on && a.secret == "" {
		return a, errors.New("java.lang.IllegalArgumentException: requirement failed: A secret key must be specified via the spark.authenticate.secret config.")
	}
	return a, nil
}

func sparkMAC(secret, nonce string) string {
	m := hmac.New(sha256.New, []byte(secret))
	io.WriteString(m, nonce)
	return hex.EncodeToString(m.Sum(nil))
}

// sparkChallengePrefix starts the line a master with authentication on sends first.
const sparkChallengePrefix = "CHALLENGE "

// serverAuth makes a client of the master prove the secret before anything else: it sends
// a challenge and wants "AUTH <hmac>" back.
func (a sparkAuth) serverAuth(c net.Conn, sc *bufio.Scanner) bool {
	if !a.on {
		return true
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	nonce := hex.EncodeToString(b)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, sparkChallengePrefix+nonce+"\n"); err != nil {
		return false
	}
	if !sc.Scan() {
		return false
	}
	mac, ok := strings.CutPrefix(sc.Text(), "AUTH ")
	if !ok || !hmac.Equal([]byte(mac), []byte(sparkMAC(a.secret, nonce))) {
		logf("ERROR TransportRequestHandler: authentication failed for %s (spark.authenticate is on)", c.RemoteAddr())
		io.WriteString(c, "ERROR authentication failed\n")
		return false
	}
	_, err := io.WriteString(c, "AUTH_OK\n")
	return err == nil
}

// clientAuth answers the master's challenge when authentication is on.
func (a sparkAuth) clientAuth(c net.Conn, r *bufio.Reader) error {
	if !a.on {
		return nil
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("no authentication challenge from the master: %v", err)
	}
	nonce, ok := strings.CutPrefix(strings.TrimSpace(line), sparkChallengePrefix)
	if !ok {
		return fmt.Errorf("the master does not authenticate (spark.authenticate is on here): %q", line)
	}
	if _, err := io.WriteString(c, "AUTH "+sparkMAC(a.secret, nonce)+"\n"); err != nil {
		return err
	}
	if line, err = r.ReadString('\n'); err != nil || strings.TrimSpace(line) != "AUTH_OK" {
		return fmt.Errorf("authentication with the master failed (spark.authenticate.secret differs): %q %v", strings.TrimSpace(line), err)
	}
	return nil
}

// sparkReplyError explains a reply that is the challenge of a master whose authentication
// this client does not have on.
func sparkReplyError(reply string) string {
	if strings.HasPrefix(reply, sparkChallengePrefix) {
		return "the master requires authentication: set spark.authenticate=true and its spark.authenticate.secret"
	}
	return reply
}
