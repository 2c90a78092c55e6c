package installer

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) backupCmd() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "write the install's data volumes, answers and credentials to one archive",
		ArgsUsage: "FILE",
		Description: "The services whose volumes are copied are stopped for the copy, so it is consistent, and\n" +
			"started again; the command says how long. The archive holds the credentials: it is written\n" +
			"mode 0600. dataeco restore FILE brings it back, here or on another machine.",
		Flags: []cli.Flag{dirFlag(), timeoutFlag(),
			&cli.StringFlag{Name: "components", Usage: "only the data of the components in `LIST` (comma-separated)"}},
		Action: a.withStack(true, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			if c.NArg() != 1 {
				return hint.UsageHint("for example: dataeco backup dataeco-backup.tar.gz", fmt.Errorf("backup needs one FILE argument"))
			}
			keys, err := backupVolumes(c, def)
			if err != nil {
				return err
			}
			return a.backup(c.Context, def, stack, keys, c.Args().First(), timeouts(c))
		}),
	}
}

// backupVolumes are the volume keys to archive: every volume of the install, or those of
// --components.
func backupVolumes(c *cli.Context, def *model.Definition) ([]string, error) {
	if !c.IsSet("components") {
		var keys []string
		for _, name := range def.Project.ServiceNames() {
			for _, v := range def.Project.Services[name].Volumes {
				if v.Type == "volume" && v.Source != "" && !slices.Contains(keys, v.Source) {
					keys = append(keys, v.Source)
				}
			}
		}
		return keys, nil
	}
	comps, err := model.ParseComponents(c.String("components"))
	if err != nil {
		return nil, hint.Usage("--components", "kafka,cassandra", "%v", err)
	}
	return model.ComponentVolumes(def, comps), nil
}

// backup stops the services that write to the volumes, copies each into the archive, and
// starts the services again whatever happened (an interrupted backup leaves the stack as it
// was, and no file).
func (a *App) backup(ctx context.Context, def *model.Definition, stack *engine.Stack, keys []string, file string, timeout func(string) time.Duration) error {
	images := stack.VolumeImages()
	var present, names []string
	for _, k := range keys {
		if name := stack.VolumeName(k); stack.Docker.VolumeExists(ctx, name) {
			present, names = append(present, k), append(names, name)
		}
	}
	m := model.Manifest{Dataeco: a.Build.Version, Created: time.Now().UTC(), Project: def.Project.Name, Images: map[string]string{}}
	for _, name := range def.Project.ServiceNames() {
		m.Images[name] = def.Project.Services[name].Image
	}
	w, err := model.NewBackup(file, m)
	if err != nil {
		return err
	}
	for _, f := range model.BackupFiles() {
		if b, err := os.ReadFile(filepath.Join(def.Dir, f)); err == nil {
			if err := w.AddFile(f, b); err != nil {
				w.Abort()
				return err
			}
		}
	}
	running, err := stack.RunningServices(ctx, stack.ServicesMounting(names))
	if err != nil {
		w.Abort()
		return err
	}
	stopped := time.Now()
	if len(running) > 0 {
		a.status("Stopping %s for a consistent copy", strings.Join(running, ", "))
	}
	resume, copyErr := stack.StopServices(ctx, running, timeout)
	if copyErr == nil {
		copyErr = a.copyVolumes(ctx, stack, w, present, images)
	}
	if ctx.Err() != nil {
		copyErr = fmt.Errorf("%w; no backup was written", hint.ErrInterrupted)
	}
	if len(running) > 0 && resume != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		if err := resume(rctx); err != nil {
			w.Abort()
			return hint.Wrap(err, "run `dataeco start` to bring them back")
		}
		a.status("%s were down for %s", strings.Join(running, ", "), time.Since(stopped).Round(time.Second))
	}
	if copyErr != nil {
		w.Abort()
		return copyErr
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	fi, _ := os.Stat(file)
	size := int64(0)
	if fi != nil {
		size = fi.Size()
	}
	a.result("%s\t%d volumes\t%s\t(holds the credentials: keep it private)", file, len(present), engine.HumanBytes(size))
	return nil
}

// copyVolumes adds each volume to the archive, through a temporary file so its size is known
// for the archive's header.
func (a *App) copyVolumes(ctx context.Context, stack *engine.Stack, w *model.BackupWriter, keys []string, images map[string]string) error {
	for _, k := range keys {
		name := stack.VolumeName(k)
		tmp, err := os.CreateTemp("", "dataeco-volume-*")
		if err != nil {
			return err
		}
		err = func() error {
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			bar := engine.NewByteCounter(a.progress(), 1, "copying "+k)
			n, err := stack.Docker.ReadVolume(ctx, name, images[name], io.MultiWriter(tmp, bar))
			_ = bar.Finish()
			if err != nil {
				return err
			}
			if _, err := tmp.Seek(0, io.SeekStart); err != nil {
				return err
			}
			a.status("  %s: %s", k, engine.HumanBytes(n))
			return w.AddVolume(k, n, tmp)
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
