package model

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dataeco/dataeco/installer/hint"
)

// A backup is one gzip-compressed tar: install/ holds the files of the install dir that the
// data needs (the answers and the secrets: the restored Cassandra roles and PostgreSQL users
// were made with them), volumes/KEY.tar each volume's contents, and manifest.json, last,
// what it all is, with each volume's size and sha256, so a restore can refuse an archive cut
// short or altered before it changes anything.

const backupFormat = 1

// Manifest describes a backup.
type Manifest struct {
	Format  int               `json:"format"`
	Dataeco string            `json:"dataeco"`
	Created time.Time         `json:"created"`
	Project string            `json:"project"`
	Images  map[string]string `json:"images"` // service → the image it ran
	Volumes []VolumeEntry     `json:"volumes"`
	Files   []string          `json:"files"`
}

// VolumeEntry is one volume in a backup, by its key in the compose file (kafka-data).
type VolumeEntry struct {
	Key    string `json:"key"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// BackupFiles are the files of an install dir a backup carries.
func BackupFiles() []string {
	return []string{AnswersFile, EnvFile, RequirementsFile, SparkPackagesFile, CACertsFile, OverrideFile}
}

// BackupWriter writes an archive through a temporary file beside its path, private to the
// user (it holds the secrets), renamed into place only when complete.
type BackupWriter struct {
	path     string
	tmp      *os.File
	gz       *gzip.Writer
	tw       *tar.Writer
	manifest Manifest
	now      time.Time
}

// NewBackup starts an archive at path.
func NewBackup(path string, m Manifest) (*BackupWriter, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*")
	if err != nil {
		return nil, hint.Wrap(fmt.Errorf("writing %s: %w", path, err), "pass a FILE in a directory you can write to")
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	m.Format = backupFormat
	gz := gzip.NewWriter(tmp)
	return &BackupWriter{path: abs, tmp: tmp, gz: gz, tw: tar.NewWriter(gz), manifest: m, now: time.Now()}, nil
}

func (b *BackupWriter) entry(name string, size int64, r io.Reader) (string, error) {
	if err := b.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: b.now}); err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(b.tw, io.TeeReader(r, h))
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes instead of %d", name, n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), err
}

// AddFile adds a file of the install dir.
func (b *BackupWriter) AddFile(name string, data []byte) error {
	if _, err := b.entry("install/"+name, int64(len(data)), strings.NewReader(string(data))); err != nil {
		return err
	}
	b.manifest.Files = append(b.manifest.Files, name)
	return nil
}

// AddVolume adds a volume's tar archive of size bytes.
func (b *BackupWriter) AddVolume(key string, size int64, r io.Reader) error {
	sum, err := b.entry("volumes/"+key+".tar", size, r)
	if err != nil {
		return fmt.Errorf("archiving volume %s: %w", key, err)
	}
	b.manifest.Volumes = append(b.manifest.Volumes, VolumeEntry{Key: key, Bytes: size, SHA256: sum})
	return nil
}

// Close writes the manifest and puts the archive in place.
func (b *BackupWriter) Close() error {
	m, err := json.MarshalIndent(b.manifest, "", "  ")
	if err != nil {
		return err
	}
	if _, err := b.entry("manifest.json", int64(len(m)), strings.NewReader(string(m))); err != nil {
		return err
	}
	for _, c := range []io.Closer{b.tw, b.gz} {
		if err := c.Close(); err != nil {
			return err
		}
	}
	if err := b.tmp.Sync(); err != nil {
		return err
	}
	if err := b.tmp.Close(); err != nil {
		return err
	}
	return os.Rename(b.tmp.Name(), b.path)
}

// Abort removes the unfinished archive.
func (b *BackupWriter) Abort() {
	b.tmp.Close()
	os.Remove(b.tmp.Name())
}

// Backup is a verified archive: its manifest and install files, read in the first pass.
type Backup struct {
	Path     string
	Manifest Manifest
	Files    map[string][]byte
}

// errDamaged says what is wrong with an archive, and that nothing was changed.
func errDamaged(path, format string, args ...any) error {
	return hint.New("use another copy of the backup, or make a new one with `dataeco backup FILE`; nothing was changed",
		fmt.Errorf("%s is not a complete dataeco backup: %s", path, fmt.Sprintf(format, args...)))
}

// VerifyBackup reads a whole archive once: every volume's size and sha256 must match the
// manifest, the manifest must be there, and the compressed stream's own checksum must hold,
// so an archive cut short or altered anywhere is refused before a restore touches anything.
func VerifyBackup(path string) (*Backup, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, hint.Wrap(fmt.Errorf("reading %s: %w", path, err), "pass the file `dataeco backup` wrote")
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, errDamaged(path, "%v", err)
	}
	b := &Backup{Path: path, Files: map[string][]byte{}}
	sums := map[string]VolumeEntry{}
	var manifest []byte
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errDamaged(path, "%v", err)
		}
		switch {
		case h.Name == "manifest.json":
			manifest, err = io.ReadAll(io.LimitReader(tr, 1<<20))
		case strings.HasPrefix(h.Name, "install/"):
			b.Files[strings.TrimPrefix(h.Name, "install/")], err = io.ReadAll(io.LimitReader(tr, 16<<20))
		case strings.HasPrefix(h.Name, "volumes/"):
			hash := sha256.New()
			var n int64
			n, err = io.Copy(hash, tr)
			sums[strings.TrimSuffix(strings.TrimPrefix(h.Name, "volumes/"), ".tar")] = VolumeEntry{Bytes: n, SHA256: hex.EncodeToString(hash.Sum(nil))}
		}
		if err != nil {
			return nil, errDamaged(path, "%v", err)
		}
	}
	// The tar reader stops at the archive's end marker; reading gzip to its end checks its
	// CRC and length over every byte, the install files and the padding included.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, errDamaged(path, "%v", err)
	}
	if manifest == nil {
		return nil, errDamaged(path, "it has no manifest (cut short?)")
	}
	if err := json.Unmarshal(manifest, &b.Manifest); err != nil || b.Manifest.Format != backupFormat {
		return nil, errDamaged(path, "its manifest is not format %d: %v", backupFormat, err)
	}
	for _, v := range b.Manifest.Volumes {
		got, ok := sums[v.Key]
		if !ok || got.Bytes != v.Bytes || got.SHA256 != v.SHA256 {
			return nil, errDamaged(path, "volume %s does not match its checksum in the manifest", v.Key)
		}
	}
	for _, name := range b.Manifest.Files {
		if _, ok := b.Files[name]; !ok {
			return nil, errDamaged(path, "%s is missing", name)
		}
	}
	return b, nil
}

// EachVolume streams every volume's tar archive of a verified backup to fn, in the
// manifest's order.
func (b *Backup) EachVolume(fn func(v VolumeEntry, r io.Reader) error) error {
	f, err := os.Open(b.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	byKey := map[string]VolumeEntry{}
	for _, v := range b.Manifest.Volumes {
		byKey[v.Key] = v
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		key := strings.TrimSuffix(strings.TrimPrefix(h.Name, "volumes/"), ".tar")
		if v, ok := byKey[key]; ok && strings.HasPrefix(h.Name, "volumes/") {
			if err := fn(v, tr); err != nil {
				return err
			}
		}
	}
}
