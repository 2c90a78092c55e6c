package installer

import (
	"compress/gzip"
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

// imagesCmd serves offline installs: list the images for mirroring, save them to one file on a
// machine that can pull, load that file on one that cannot. install pulls only what is
// missing, so after a load it needs no registry.
func (a *App) imagesCmd() *cli.Command {
	selection := func() []cli.Flag {
		return []cli.Flag{dirFlag(),
			&cli.StringFlag{Name: "components", Usage: "the images of the components in `LIST` instead of the install's (comma-separated, or all)"},
			&cli.StringFlag{Name: "registry", Usage: "the images as pulled through the registry or mirror at `HOST[:PORT][/PATH]` instead of the install's"},
			&cli.StringSliceFlag{Name: "image", Usage: "with an image override, `NAME=REF`, beside the install's (repeatable; see install --help)"},
		}
	}
	return &cli.Command{
		Name:  "images",
		Usage: "list, save or load the stack's images, for mirrors and offline installs",
		Description: "Without an install in --dir, the images of a default install (with --components and\n" +
			"--registry applied). dataeco images save FILE pulls what is missing and writes every image\n" +
			"to FILE (gzip-compressed when it ends in .gz); dataeco images load FILE puts them into\n" +
			"another engine, where dataeco install then needs no registry.",
		Flags: append(selection(), jsonFlag()),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 { // `images help` is a subcommand and never comes here
				return hint.UsageHint("run `dataeco images --help`: `images` lists, `images save FILE` saves, `images load FILE` loads",
					fmt.Errorf("images has no command %q", c.Args().First()))
			}
			def, err := a.imageSelection(c)
			if err != nil {
				return err
			}
			refs := imageRefs(def)
			if c.Bool("json") {
				return a.printJSON(refs)
			}
			return writeImages(a.Streams.Out, refs)
		},
		Subcommands: []*cli.Command{
			{
				Name:      "save",
				Usage:     "pull the stack's images if needed and write them all to one file",
				ArgsUsage: "FILE",
				Flags:     selection(),
				Action: func(c *cli.Context) error {
					file, err := oneFileArg(c, "dataeco-images.tar.gz")
					if err != nil {
						return err
					}
					def, err := a.imageSelection(c)
					if err != nil {
						return err
					}
					return a.saveImages(c.Context, def, file)
				},
			},
			{
				Name:      "load",
				Usage:     "load images written by dataeco images save into this machine's engine",
				ArgsUsage: "FILE",
				Action: func(c *cli.Context) error {
					file, err := oneFileArg(c, "dataeco-images.tar.gz")
					if err != nil {
						return err
					}
					return a.loadImages(c.Context, file)
				},
			},
		},
	}
}

func oneFileArg(c *cli.Context, example string) (string, error) {
	if c.NArg() > 1 && strings.HasPrefix(c.Args().Get(1), "-") {
		return "", hint.UsageHint(fmt.Sprintf("for example: dataeco images %s %s %s", c.Command.Name, strings.Join(c.Args().Slice()[1:], " "), c.Args().First()),
			fmt.Errorf("images %s: flags go before FILE, %s came after it", c.Command.Name, c.Args().Get(1)))
	}
	if c.NArg() != 1 || c.Args().First() == "" {
		return "", hint.UsageHint(fmt.Sprintf("for example: dataeco images %s %s", c.Command.Name, example),
			fmt.Errorf("images %s needs one FILE argument, got %d", c.Command.Name, c.NArg()))
	}
	return c.Args().First(), nil
}

// ImageRef is one image of the stack and the services that run it (or run what is built
// from it).
type ImageRef struct {
	Image    string   `json:"image"`
	Services []string `json:"services"`
	// BuiltFrom is set on the images dataeco builds: the pinned image each starts from.
	BuiltFrom string `json:"built_from,omitempty"`
	// Replaces is set on an --image override: the pinned image it stands in for.
	Replaces string `json:"replaces,omitempty"`
	// Override is the override's NAME, as --image takes it.
	Override string `json:"override,omitempty"`
}

// imageSelection defines the install in --dir, or a default install, with --components and
// --registry applied. No engine is needed: a mirror can be filled from this list on another
// machine.
func (a *App) imageSelection(c *cli.Context) (*model.Definition, error) {
	dir, err := a.installDir(c)
	if err != nil {
		return nil, err
	}
	ans, err := model.LoadAnswers(dir)
	if err != nil {
		return nil, err
	}
	if ans == nil {
		// Sizes depend on the engine's resources, images do not.
		d := model.DefaultAnswers(model.EngineResources{NCPU: 8, MemTotal: 32 << 30})
		ans = &d
	}
	if c.IsSet("components") {
		comps, err := model.ParseComponents(c.String("components"))
		if err != nil {
			return nil, hint.Usage("--components", "kafka,spark,cassandra", "%v", err)
		}
		ans.Components = comps
	}
	if c.IsSet("registry") {
		reg, err := model.ParseRegistry(c.String("registry"))
		if err != nil {
			return nil, hint.Usage("--registry", "127.0.0.1:5000", "%v", err)
		}
		ans.Registry = reg
	}
	if c.IsSet("image") {
		given, err := model.ParseImages(strings.Join(c.StringSlice("image"), ","))
		if err != nil {
			return nil, hint.Usage("--image", "kafka=confluentinc/cp-server:7.9.10", "%v", err)
		}
		ans.Images = model.MergeImages(ans.Images, given)
	}
	return a.renderer().Define(c.Context, dir, ans, model.Secrets{})
}

// imageRefs lists the definition's images, each with the services that run it, sorted: the
// pinned ones (what a mirror needs) and the ones dataeco builds from them (what a bundle
// carries, so an offline machine builds nothing).
func imageRefs(def *model.Definition) []ImageRef {
	byImage := map[string][]string{}
	from := map[string]string{}
	for _, name := range def.Project.ServiceNames() {
		img := def.Project.Services[name].Image
		byImage[img] = append(byImage[img], name)
		for _, b := range def.Builds {
			if b.Tag == img {
				from[img] = b.Base
				byImage[b.Base] = append(byImage[b.Base], name)
			}
		}
	}
	var refs []ImageRef
	for img, services := range byImage {
		r := ImageRef{Image: img, Services: services, BuiltFrom: from[img]}
		for _, o := range def.Answers.Overrides() {
			if o.Image == img {
				r.Replaces, r.Override = o.Pinned, o.Name
			}
		}
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(x, y ImageRef) int { return strings.Compare(x.Image, y.Image) })
	return refs
}

// saveImages pulls what is missing (with the install's progress display), then writes the
// engine's archive of every image into file, through a temporary file so an interrupted save
// never leaves a truncated bundle under the real name.
func (a *App) saveImages(ctx context.Context, def *model.Definition, file string) error {
	var names []string
	for _, r := range imageRefs(def) {
		names = append(names, r.Image)
	}
	// The destination first: a FILE nobody can write must not cost a pull.
	return writeThroughTemp(file, func(w io.Writer) error {
		docker, err := a.connect(ctx)
		if err != nil {
			return err
		}
		defer docker.Close()
		if len(docker.Missing(ctx, names)) > 0 {
			stack, err := a.newStack(docker, def)
			if err != nil {
				return err
			}
			if err := a.fetchImages(ctx, stack, true, "images save"); err != nil {
				return err
			}
		}
		a.status("saving %d images (%s) to %s", len(names), engine.HumanBytes(docker.ImagesSize(ctx, names)), file)
		start := time.Now()
		if _, err := docker.SaveImages(ctx, names, w, a.progress()); err != nil {
			return err
		}
		a.status("saved in %s; on the offline machine: dataeco images load %s", time.Since(start).Round(time.Second), filepath.Base(file))
		return nil
	}, func(size int64) { a.result("%s\t%d images\t%s", file, len(names), engine.HumanBytes(size)) })
}

// writeThroughTemp runs write into a temporary file beside file (gzip-compressed when file
// ends in .gz or .tgz) and renames it into place only when write succeeded; done gets the
// size written.
func writeThroughTemp(file string, write func(io.Writer) error, done func(size int64)) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*")
	if err != nil {
		return hint.Wrap(fmt.Errorf("writing %s: %w", file, err), "pass a FILE in a directory you can write to")
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	defer tmp.Close()
	var out io.Writer = tmp
	var gz *gzip.Writer
	if strings.HasSuffix(file, ".gz") || strings.HasSuffix(file, ".tgz") {
		gz = gzip.NewWriter(tmp)
		out = gz
	}
	if err := write(out); err != nil {
		return err
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", file, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), abs); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if fi, err := os.Stat(abs); err == nil {
		done(fi.Size())
	}
	return nil
}

// loadImages hands file to the engine and prints the images it loaded.
func (a *App) loadImages(ctx context.Context, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return hint.Wrap(fmt.Errorf("reading %s: %w", file, err), "pass the file `dataeco images save` wrote")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	docker, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	a.status("loading %s (%s)", file, engine.HumanBytes(fi.Size()))
	loaded, err := docker.LoadImages(ctx, f, fi.Size(), a.progress())
	if err != nil {
		return fmt.Errorf("loading %s: %w", file, err)
	}
	for _, ref := range loaded {
		a.result("%s", ref)
	}
	a.status("loaded %d images; `dataeco install` uses them without pulling", len(loaded))
	return nil
}
