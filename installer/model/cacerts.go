package model

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dataeco/dataeco/installer/hint"
)

// CACertsFile holds, in the install dir, the certificate authorities the user added with
// --ca-cert: behind a TLS-inspecting proxy every HTTPS fetch from a container or an image
// build (pip, Ivy, a DAG's requests) fails unless the company's CA is trusted there. The
// images dataeco builds trust them; the file is an input of those builds, like
// requirements.txt, so a change rebuilds them.
const CACertsFile = "ca-certificates.pem"

// caBundle is where Debian and Ubuntu images keep the system's trusted CAs, which the
// built images extend.
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// ReadCACertFiles reads the PEM files given to --ca-cert into one bundle of their
// certificates, refusing a file that holds anything else or no certificate at all. "none"
// alone gives an empty bundle: the built images go back to the base's CAs.
func ReadCACertFiles(paths []string) ([]byte, error) {
	if len(paths) == 1 && paths[0] == "none" {
		return nil, nil
	}
	var out bytes.Buffer
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, hint.Usage("--ca-cert", "/usr/local/share/ca-certificates/company.crt", "%v", err)
		}
		certs, err := ParseCACerts(b)
		if err != nil {
			return nil, hint.Usage("--ca-cert", "/usr/local/share/ca-certificates/company.crt", "%s: %v", p, err)
		}
		out.Write(certs)
	}
	return out.Bytes(), nil
}

// ParseCACerts checks that b is PEM holding only X.509 certificates, at least one, and
// returns them re-encoded (comments and stray text dropped, so they change nothing built).
func ParseCACerts(b []byte) ([]byte, error) {
	var out bytes.Buffer
	rest := bytes.TrimSpace(b)
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if out.Len() == 0 {
				return nil, fmt.Errorf("no PEM certificate in it (a file that starts with -----BEGIN CERTIFICATE-----)")
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("it holds a %s, not only certificates", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("a certificate in it does not parse: %v", err)
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}); err != nil {
			return nil, err
		}
		rest = bytes.TrimSpace(rest)
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("no PEM certificate in it (a file that starts with -----BEGIN CERTIFICATE-----)")
	}
	return out.Bytes(), nil
}

// WriteCACerts keeps the bundle in the install dir, or removes the file when it is empty.
func WriteCACerts(dir string, certs []byte) error {
	path := filepath.Join(dir, CACertsFile)
	if len(certs) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	return WriteFileAtomic(path, certs, 0o644)
}

// trustSnippet makes an image trust the bundle: in the system's store (OpenSSL, curl, Go),
// for Python's pip and requests (which carry their own store otherwise), and in the JVM's
// (Spark, Ivy), each where the image has it. It runs as root; the caller switches back.
const trustSnippet = `# The certificate authorities you added with --ca-cert (` + CACertsFile + ` in the install dir),
# one file each where update-ca-certificates and keytool look.
USER root
COPY ` + CACertsFile + ` /tmp/dataeco-ca.pem
RUN set -e; \
    mkdir -p /usr/local/share/ca-certificates /etc/ssl/certs; \
    awk '/-BEGIN CERTIFICATE-/{n++} n{print > ("/usr/local/share/ca-certificates/dataeco-" n ".crt")}' /tmp/dataeco-ca.pem; \
    if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates; \
    else cat /usr/local/share/ca-certificates/dataeco-*.crt >> ` + caBundle + `; fi; \
    if command -v keytool >/dev/null 2>&1; then \
      for f in /usr/local/share/ca-certificates/dataeco-*.crt; do \
        keytool -importcert -noprompt -cacerts -storepass changeit -alias "$(basename "$f" .crt)" -file "$f" >/dev/null; \
      done; \
    fi; \
    rm -f /tmp/dataeco-ca.pem
ENV SSL_CERT_FILE=` + caBundle + ` PIP_CERT=` + caBundle + ` REQUESTS_CA_BUNDLE=` + caBundle + `
`
