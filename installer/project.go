package installer

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
)

// LoadProject turns rendered compose bytes into a Compose project, the way `docker compose`
// would load the same file from dir: compose-go's loader with the compose-spec schema, paths
// resolved against dir, variables taken from the secrets only (never the caller's
// environment, which could silently change the stack).
func LoadProject(ctx context.Context, name, dir string, content []byte, secrets Secrets) (*types.Project, error) {
	env := types.Mapping{}
	for k, v := range secrets {
		env[k] = v
	}
	configPath := filepath.Join(dir, composeFile)
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: configPath, Content: content}},
		Environment: env,
	}
	project, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
		o.ResolvePaths = true
		o.SkipInclude = true
	})
	if err != nil {
		return nil, fmt.Errorf("loading the compose definition: %w", err)
	}
	// Compose finds its containers again by these labels. Its own loader sets them; ours must,
	// or Up cannot start what it created and Down leaves containers behind.
	for svcName, s := range project.Services {
		s.CustomLabels = map[string]string{
			api.ProjectLabel:     project.Name,
			api.ServiceLabel:     svcName,
			api.VersionLabel:     api.ComposeVersion,
			api.WorkingDirLabel:  project.WorkingDir,
			api.ConfigFilesLabel: configPath,
			api.OneoffLabel:      "False",
		}
		// Present images are used as they are: tags are pinned, so a re-run needs no registry.
		s.PullPolicy = types.PullPolicyMissing
		project.Services[svcName] = s
	}
	return project, nil
}
