package model

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a self-signed CA certificate in PEM.
func testCA(t *testing.T, name string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestReadCACertFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one, two := testCA(t, "one"), testCA(t, "two")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	commented := write("commented.pem", append([]byte("Company root CA\n"), append(one, two...)...))
	single := write("two.crt", two)
	key := write("key.pem", []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"))
	text := write("text.txt", []byte("not a certificate\n"))

	got, err := ReadCACertFiles([]string{commented, single})
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append(bytes.Clone(one), two...), two...); !bytes.Equal(got, want) {
		t.Errorf("bundle:\n%s\nwant:\n%s", got, want)
	}
	if got, err := ReadCACertFiles([]string{"none"}); err != nil || len(got) != 0 {
		t.Errorf("none: %q, %v", got, err)
	}
	for path, want := range map[string]string{key: "holds a PRIVATE KEY", text: "no PEM certificate", filepath.Join(dir, "missing"): "no such file"} {
		if _, err := ReadCACertFiles([]string{path}); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--ca-cert") {
			t.Errorf("%s: err = %v, want one naming --ca-cert and %q", path, err, want)
		}
	}
}

// TestBuildsTrustTheCAs: with CAs the built images carry them and are rebuilt (a new tag);
// without, the recipe is the plain one.
func TestBuildsTrustTheCAs(t *testing.T) {
	t.Parallel()
	a := testAnswers(nil)
	plain, err := Builds(a, Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	ca := testCA(t, "company")
	trusted, err := Builds(a, Inputs{CACerts: ca})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range trusted {
		if b.Tag == plain[i].Tag {
			t.Errorf("%s: the same tag with and without CAs", b.Name)
		}
		if _, ok := plain[i].Files[CACertsFile]; ok || !bytes.Equal(b.Files[CACertsFile], ca) {
			t.Errorf("%s: the CA file is not in the context exactly when given", b.Name)
		}
		df := string(b.Files["Dockerfile"])
		from := strings.Index(df, "\nFROM ")
		trust := strings.Index(df, "COPY "+CACertsFile)
		work := strings.Index(df, "RUN pip install")
		if b.Name == "spark" {
			work = strings.Index(df, "spark-submit")
		}
		if from < 0 || trust < from || work < trust {
			t.Errorf("%s: the CAs are not trusted between FROM and the build's fetches:\n%s", b.Name, df)
		}
		if b.Name == "airflow" && !strings.Contains(df, "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\nUSER 50000\n") {
			t.Errorf("airflow: pip runs as root, or without the bundle:\n%s", df)
		}
		if b.Name == "spark" && !strings.Contains(df, "keytool -importcert") {
			t.Errorf("spark: the JVM's store is not given the CAs:\n%s", df)
		}
	}
}
