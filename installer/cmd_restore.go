package installer

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) restoreCmd() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "bring back an install from an archive made by dataeco backup, here or on another machine",
		ArgsUsage: "FILE",
		Description: "Into an empty install dir (--dir), or over an existing install with --force. The whole archive\n" +
			"is checked first; its volumes are written beside the install's and only then swapped in, so\n" +
			"a failure never leaves a half-restored stack. The answers and credentials come back with the\n" +
			"data; --project restores under another project name.",
		Flags: []cli.Flag{dirFlag(), timeoutFlag(), skipCheckFlag(), keepOnFailureFlag(),
			&cli.BoolFlag{Name: "force", Usage: "replace the data of the install in --dir", DisableDefaultText: true},
			&cli.StringFlag{Name: "project", Usage: "restore under the Compose project `NAME` instead of the archive's"},
		},
		Action: a.runRestore,
	}
}

func (a *App) runRestore(c *cli.Context) error {
	ctx := c.Context
	started := time.Now()
	if c.NArg() != 1 {
		return hint.UsageHint("for example: dataeco restore dataeco-backup.tar.gz", fmt.Errorf("restore needs one FILE argument"))
	}
	b, err := model.VerifyBackup(c.Args().First())
	if err != nil {
		return err
	}
	dir, err := a.installDir(c)
	if err != nil {
		return err
	}
	existing, err := model.LoadAnswers(dir)
	if err != nil && !c.Bool("force") {
		return err
	}
	if existing != nil && !c.Bool("force") {
		return hint.New("restore into another --dir, or add --force to replace this install's data with the archive's",
			fmt.Errorf("%s already holds an install (project %s)", dir, existing.Project))
	}
	docker, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	def, err := a.restoredDefinition(c, docker, b, dir)
	if err != nil {
		return err
	}
	if err := projectFree(ctx, docker, def.Project.Name, existing); err != nil {
		return err
	}
	stack, release, err := a.lockAndFetch(c, docker, def, "restore")
	if err != nil {
		return err
	}
	defer release()
	if err := a.restoreVolumes(ctx, stack, b, existing != nil); err != nil {
		return err
	}
	if err := writeRestored(def, b); err != nil {
		return err
	}
	a.status("Starting services in dependency order")
	if err := a.bringUp(ctx, stack, timeouts(c), c.Bool("keep-on-failure"), "start"); err != nil {
		return err
	}
	return a.writeSummary(ctx, stack, def, time.Since(started))
}

// projectFree refuses to restore under a project another install on the engine uses: the
// swap would replace that install's volumes. Only the install being replaced (--force on
// its own dir) may hold the project.
func projectFree(ctx context.Context, docker *engine.Docker, project string, existing *model.Answers) error {
	if existing != nil && existing.Project == project {
		return nil
	}
	dir, inUse, err := docker.ProjectInUse(ctx, project)
	if err != nil {
		return fmt.Errorf("looking for project %s on the engine: %w", project, err)
	}
	if !inUse {
		return nil
	}
	where := "another install"
	if dir != "" {
		where = "the install in " + dir
	}
	return hint.Usage("--project", "dataeco-restored", "project %s belongs to %s on this engine, whose containers and volumes a restore would replace; nothing was changed", project, where)
}

// restoredDefinition defines the install the archive holds: its answers (under --project
// when given), its credentials and its package lists, with what this engine accepts.
func (a *App) restoredDefinition(c *cli.Context, docker *engine.Docker, b *model.Backup, dir string) (*model.Definition, error) {
	ans, err := model.ParseAnswers(b.Files[model.AnswersFile])
	if err != nil {
		return nil, hint.New("the archive's answers.yaml is not one this dataeco reads", err)
	}
	if p := c.String("project"); p != "" {
		if ans.Project, err = model.ParseProject(p); err != nil {
			return nil, hint.Usage("--project", "dataeco-restored", "%v", err)
		}
	}
	sec, err := model.ParseSecrets(b.Files[model.EnvFile])
	if err != nil {
		return nil, hint.New("the archive's credentials are damaged", err)
	}
	if _, err := sec.EnsureSecrets(ans.Project); err != nil {
		return nil, err
	}
	in, err := model.ReadInputs(dir)
	if err != nil {
		return nil, err
	}
	in.Requirements, in.SparkPackages, in.CACerts = b.Files[model.RequirementsFile], b.Files[model.SparkPackagesFile], b.Files[model.CACertsFile]
	// The archive's override, else one already in the dir (restore never deletes it).
	if o, ok := b.Files[model.OverrideFile]; ok {
		in.Override = o
	}
	a.engineInputs(c.Context, docker, &in, true)
	return a.renderer().DefineWith(c.Context, dir, ans, sec, in)
}

// restoreVolumes writes every volume of the archive beside the install's (NAME-restore),
// and only when all are written swaps them in: removes the install's containers (an
// existing install, whose data is replaced) and volumes, and copies each staged volume into
// place. Until the swap, an interruption or a failure leaves the install as it was.
func (a *App) restoreVolumes(ctx context.Context, stack *engine.Stack, b *model.Backup, replace bool) error {
	images := stack.VolumeImages()
	var keys []string
	a.status("Staging the archive's volumes beside the install's")
	err := b.EachVolume(func(v model.VolumeEntry, r io.Reader) error {
		name := stack.VolumeName(v.Key)
		image, ok := images[name]
		if !ok {
			a.status("  %s: not part of this install's components, left out", v.Key)
			return nil
		}
		staged := name + "-restore"
		keys = append(keys, v.Key) // before it exists, so an interruption removes it too
		if err := stack.Docker.RemoveVolume(ctx, staged); err != nil {
			return err
		}
		bar := engine.NewByteCounter(a.progress(), v.Bytes, "restoring "+v.Key)
		defer bar.Finish()
		if err := stack.Docker.WriteVolume(ctx, staged, image, nil, io.TeeReader(r, bar)); err != nil {
			return err
		}
		a.status("  %s: %s staged", v.Key, engine.HumanBytes(v.Bytes))
		return nil
	})
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		for _, k := range keys {
			_ = stack.Docker.RemoveVolume(cctx, stack.VolumeName(k)+"-restore")
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w while staging the volumes; nothing of the install was changed", hint.ErrInterrupted)
		}
		return hint.Wrap(fmt.Errorf("staging the volumes: %w", err), "nothing of the install was changed; see `dataeco doctor`")
	}
	if replace {
		a.status("Removing the install's containers to replace its data")
		if err := stack.Down(ctx, false); err != nil {
			return err
		}
	}
	// From here on the old data goes: no interruption half-way.
	sctx := context.WithoutCancel(ctx)
	for _, k := range keys {
		name := stack.VolumeName(k)
		if err := swapVolume(sctx, stack, name, images[name], stack.VolumeLabels(k)); err != nil {
			return hint.Wrap(fmt.Errorf("putting %s in place: %w", k, err),
				"run the same `dataeco restore --force` again: the staged copies of the volumes still to swap are kept")
		}
	}
	return nil
}

// swapVolume replaces a volume with its staged copy, and removes the copy.
func swapVolume(ctx context.Context, stack *engine.Stack, name, image string, labels map[string]string) error {
	staged := name + "-restore"
	if err := stack.Docker.RemoveVolume(ctx, name); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stack.Docker.ReadVolume(ctx, staged, image, pw)
		pw.CloseWithError(err)
	}()
	if err := stack.Docker.WriteVolume(ctx, name, image, labels, pr); err != nil {
		pr.CloseWithError(err)
		return err
	}
	return stack.Docker.RemoveVolume(ctx, staged)
}

// writeRestored writes the install dir of the restored install: the archive's files (its
// answers with the project chosen), then what install writes.
func writeRestored(def *model.Definition, b *model.Backup) error {
	if err := model.WriteInstall(def.Dir, def.Answers, def.Secrets, def.Compose); err != nil {
		return err
	}
	if err := model.WriteEngineFacts(def.Dir, def.Inputs); err != nil {
		return err
	}
	for _, f := range []string{model.RequirementsFile, model.SparkPackagesFile, model.CACertsFile, model.OverrideFile} {
		if data, ok := b.Files[f]; ok {
			if err := model.WriteFileAtomic(filepath.Join(def.Dir, f), data, 0o644); err != nil {
				return err
			}
		}
	}
	return model.WriteBuilds(def.Dir, def.Builds)
}
