package model

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/embedded"
	"github.com/dataeco/dataeco/embedded/pipeline"
	"github.com/dataeco/dataeco/installer/hint"
)

// Renderer renders answers with one template: the embedded one, or a test's (which plays a
// newer dataeco against an existing install).
type Renderer struct {
	Version  string // stamped into the file's header
	Template string // empty: the embedded template
}

// Render renders the compose file for the answers and the user's files.
func (r Renderer) Render(a *Answers, user Inputs) ([]byte, error) {
	return Render(a, r.Version, r.Template, user)
}

// Definition is a set of answers rendered and loaded the way Compose loads the file.
type Definition struct {
	Dir     string
	Answers *Answers
	// Secrets are the install's credentials; placeholders fill in any that are missing, so a
	// definition can be made for an install that does not exist yet.
	Secrets Secrets
	Compose []byte
	Project *types.Project
	// Builds are the images the definition runs that dataeco builds.
	Builds []Build
	// Inputs are what the machine and the install dir added to the answers.
	Inputs Inputs
}

// Advertised is the host the stack gives out to clients outside its containers.
func (d *Definition) Advertised() string { return d.Answers.Advertised(d.Inputs.MachineName()) }

// Define renders a, with the user's files in dir, and loads the result as if it were the
// compose file in dir.
func (r Renderer) Define(ctx context.Context, dir string, a *Answers, s Secrets) (*Definition, error) {
	user, err := ReadInputs(dir)
	if err != nil {
		return nil, err
	}
	return r.DefineWith(ctx, dir, a, s, user)
}

// DefineWith is Define with inputs given rather than read from dir (a restore takes them
// from its archive).
func (r Renderer) DefineWith(ctx context.Context, dir string, a *Answers, s Secrets, user Inputs) (*Definition, error) {
	builds, err := Builds(a, user)
	if err != nil {
		return nil, err
	}
	b, err := r.Render(a, user)
	if err != nil {
		return nil, err
	}
	sec := s.Clone()
	if _, err := sec.EnsureSecrets(a.Project); err != nil {
		return nil, err
	}
	p, err := LoadProject(ctx, a.Project, dir, b, sec, user.Override)
	if err != nil {
		return nil, err
	}
	return &Definition{Dir: dir, Answers: a, Secrets: s, Compose: b, Project: p, Builds: builds, Inputs: user}, nil
}

// Load reads the install in dir and defines it: every command but install needs one.
func (r Renderer) Load(ctx context.Context, dir string) (*Definition, error) {
	ans, err := LoadAnswers(dir)
	if err != nil {
		return nil, err
	}
	if ans == nil {
		return nil, hint.New("run `dataeco install` first (or pass --dir for an install elsewhere)",
			fmt.Errorf("nothing is installed in %s", dir))
	}
	sec, err := LoadSecrets(dir)
	if err != nil {
		return nil, err
	}
	return r.Define(ctx, dir, ans, sec)
}

// LoadProject turns rendered compose bytes into a Compose project, the way `docker compose`
// would load the same file from dir: compose-go's loader with the compose-spec schema, paths
// resolved against dir, variables taken from the secrets only (never the caller's
// environment, which could silently change the stack). The user's override, when there is
// one, is merged over it as Compose merges docker-compose.override.yml.
func LoadProject(ctx context.Context, name, dir string, content []byte, secrets Secrets, override []byte) (*types.Project, error) {
	env := types.Mapping{}
	for k, v := range secrets {
		env[k] = v
	}
	return loadProject(ctx, name, dir, content, override, env, false)
}

// MergedCompose is the compose file with the user's override merged over it, variables left
// as ${NAME} (the secrets stay in .env): what `dataeco config` shows. Without an override it
// is content itself.
func MergedCompose(ctx context.Context, name, dir string, content, override []byte) ([]byte, error) {
	if len(override) == 0 {
		return content, nil
	}
	p, err := loadProject(ctx, name, dir, content, override, types.Mapping{}, true)
	if err != nil {
		return nil, err
	}
	return p.MarshalYAML()
}

func loadProject(ctx context.Context, name, dir string, content, override []byte, env types.Mapping, raw bool) (*types.Project, error) {
	files := []types.ConfigFile{{Filename: filepath.Join(dir, ComposeFile), Content: content}}
	if len(override) > 0 {
		files = append(files, types.ConfigFile{Filename: filepath.Join(dir, OverrideFile), Content: override})
	}
	details := types.ConfigDetails{WorkingDir: dir, ConfigFiles: files, Environment: env}
	project, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
		o.ResolvePaths = true
		o.SkipInclude = true
		o.SkipInterpolation = raw
	})
	switch {
	case err != nil && len(override) > 0:
		return nil, hint.Wrap(fmt.Errorf("loading the compose definition with %s: %w", OverrideFile, err),
			"fix "+filepath.Join(dir, OverrideFile)+" (Compose's override format: services, volumes, networks), or move it away")
	case err != nil:
		return nil, fmt.Errorf("loading the compose definition: %w", err)
	}
	// The files it came from, as `docker compose` records them (its containers' labels).
	project.ComposeFiles = nil
	for _, f := range files {
		project.ComposeFiles = append(project.ComposeFiles, f.Filename)
	}
	return project, nil
}

// ServiceNames lists the compose services the answers install, sorted.
func ServiceNames(a *Answers) []string {
	var names []string
	for _, s := range Catalogue() {
		if s.On(a) {
			names = append(names, s.Instances(a)...)
		}
	}
	slices.Sort(names)
	return names
}

// WriteInstall writes the install dir: credentials first and private, then the answers, then
// the compose file, each replaced atomically, then the pipeline's files.
func WriteInstall(dir string, ans *Answers, secrets Secrets, rendered []byte) error {
	if err := PrepareDir(dir); err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, EnvFile), secrets.Marshal(), 0o600); err != nil {
		return fmt.Errorf("writing credentials: %w", err)
	}
	ab, err := ans.Marshal()
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, AnswersFile), ab, 0o600); err != nil {
		return fmt.Errorf("writing answers: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, ComposeFile), rendered, 0o644); err != nil {
		return fmt.Errorf("writing the compose file: %w", err)
	}
	dags := filepath.Join(dir, dagsDir)
	if err := os.MkdirAll(dags, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dags, err)
	}
	// Airflow runs as uid 50000 in its containers and must read the DAGs.
	if err := os.Chmod(dags, 0o755); err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dags, "README.md"), []byte(embedded.DagsReadme), 0o644); err != nil {
		return err
	}
	if err := writeUserFiles(dir); err != nil {
		return err
	}
	return writePipeline(dir)
}

// writePipeline installs the pipeline's files where the compose file mounts them: the DAGs
// beside the user's own in dags/, the Spark job and the CQL under pipeline/. Only dataeco's
// files are replaced; anything else in those folders is the user's and stays.
func writePipeline(dir string) error {
	target := func(name string) string {
		if strings.HasPrefix(name, "dags/") {
			return filepath.Join(dir, filepath.FromSlash(name))
		}
		return filepath.Join(dir, "pipeline", filepath.FromSlash(name))
	}
	return fs.WalkDir(pipeline.Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(name, "/") {
			return err // top-level files (requirements) are rendered into the compose file
		}
		b, err := pipeline.Files.ReadFile(name)
		if err != nil {
			return err
		}
		path := target(name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		if err := WriteFileAtomic(path, b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return nil
	})
}
