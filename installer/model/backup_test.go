package model

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerifyBackupRefusesAnyAlteredByte: an archive with any one byte changed after the
// gzip header's informational fields, or cut anywhere, is refused as damaged.
func TestVerifyBackupRefusesAnyAlteredByte(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.gz")
	w, err := NewBackup(path, Manifest{Dataeco: "test", Created: time.Unix(0, 0).UTC(), Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddFile(AnswersFile, []byte("version: 1\n")); err != nil {
		t.Fatal(err)
	}
	vol := bytes.Repeat([]byte("kafka log segment "), 200)
	if err := w.AddVolume("kafka-data", int64(len(vol)), bytes.NewReader(vol)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBackup(path); err != nil {
		t.Fatalf("the archive as written: %v", err)
	}
	bad := filepath.Join(dir, "bad.tar.gz")
	check := func(what string, data []byte) {
		t.Helper()
		if err := os.WriteFile(bad, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyBackup(bad); err == nil || !strings.Contains(err.Error(), "not a complete dataeco backup") {
			t.Errorf("%s: err = %v", what, err)
		}
	}
	// Bytes 4-9 of a gzip header are its modification time, flags and OS: informational.
	for i := 10; i < len(good); i++ {
		flipped := bytes.Clone(good)
		flipped[i] ^= 0xff
		check("byte "+strconv.Itoa(i)+" of "+strconv.Itoa(len(good))+" flipped", flipped)
	}
	for _, n := range []int{len(good) - 1, len(good) / 2, 20} {
		check("cut at "+strconv.Itoa(n), good[:n])
	}
}
