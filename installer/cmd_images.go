package installer

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
)

// imagesCmd serves offline installs: list the images for mirroring, save them to one file on a
// machine that can pull, load that file on one that cannot. install pulls only what is
// missing, so after a load it needs no registry.
func (a *App) imagesCmd() *cli.Command {
	selection := func() []cli.Flag {
		return []cli.Flag{dirFlag(),
			&cli.StringFlag{Name: "components", Usage: "the images of these components instead of the install's (comma-separated, or all)"},
			&cli.StringFlag{Name: "registry", Usage: "the images as pulled through this registry or mirror, HOST[:PORT][/PATH], instead of the install's"},
		}
	}
	return &cli.Command{
		Name:  "images",
		Usage: "list, save or load the stack's images, for mirrors and offline installs",
		Description: "Without an install in --dir, the images of a default install (with --components and\n" +
			"--registry applied). `dataeco images save FILE` pulls what is missing and writes every image\n" +
			"to FILE (gzip-compressed when it ends in .gz); `dataeco images load FILE` puts them into\n" +
			"another engine, where `dataeco install` then needs no registry.",
		Flags: append(selection(), &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 { // `images help` is a subcommand and never comes here
				return &Error{Code: ExitUsage, Err: fmt.Errorf("images has no command %q", c.Args().First()),
					Hint: "run `dataeco images --help`: `images` lists, `images save FILE` saves, `images load FILE` loads"}
			}
			refs, _, err := a.imageSelection(c)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return a.printJSON(refs)
			}
			tw := tabwriter.NewWriter(a.Streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tSERVICES")
			for _, r := range refs {
				fmt.Fprintf(tw, "%s\t%s\n", r.Image, strings.Join(r.Services, ","))
			}
			return tw.Flush()
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
					refs, p, err := a.imageSelection(c)
					if err != nil {
						return err
					}
					return a.saveImages(c.Context, refs, p, file)
				},
			},
			{
				Name:      "load",
				Usage:     "load images written by `dataeco images save` into this machine's engine",
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
		return "", &Error{Code: ExitUsage, Err: fmt.Errorf("images %s: flags go before FILE, %s came after it", c.Command.Name, c.Args().Get(1)),
			Hint: fmt.Sprintf("for example: dataeco images %s %s %s", c.Command.Name, strings.Join(c.Args().Slice()[1:], " "), c.Args().First())}
	}
	if c.NArg() != 1 || c.Args().First() == "" {
		return "", &Error{Code: ExitUsage, Err: fmt.Errorf("images %s needs one FILE argument, got %d", c.Command.Name, c.NArg()),
			Hint: fmt.Sprintf("for example: dataeco images %s %s", c.Command.Name, example)}
	}
	return c.Args().First(), nil
}

// ImageRef is one image of the stack and the services that run it.
type ImageRef struct {
	Image    string   `json:"image"`
	Services []string `json:"services"`
}

// imageSelection gives the images of the install in --dir, or of a default install, with
// --components and --registry applied. No engine is needed: a mirror can be filled from
// this list on another machine.
func (a *App) imageSelection(c *cli.Context) ([]ImageRef, *types.Project, error) {
	dir, err := a.installDir(c)
	if err != nil {
		return nil, nil, err
	}
	ans, err := LoadAnswers(dir)
	if err != nil {
		return nil, nil, err
	}
	if ans == nil {
		// Sizes depend on the engine's resources, images do not.
		d := DefaultAnswers(EngineResources{NCPU: 8, MemTotal: 32 << 30})
		ans = &d
	}
	if c.IsSet("components") {
		comps, err := ParseComponents(c.String("components"))
		if err != nil {
			return nil, nil, UsageError("--components", "kafka,spark,cassandra", "%v", err)
		}
		ans.Components = comps
	}
	if c.IsSet("registry") {
		reg, err := ParseRegistry(c.String("registry"))
		if err != nil {
			return nil, nil, UsageError("--registry", "127.0.0.1:5000", "%v", err)
		}
		ans.Registry = reg
	}
	b, err := a.render(ans)
	if err != nil {
		return nil, nil, err
	}
	return projectImages(c.Context, ans.Project, dir, b)
}

// projectImages loads a rendered compose file only for its images, each with the services
// that run it, sorted. Throwaway secrets fill the ${VARIABLES}.
func projectImages(ctx context.Context, project, dir string, compose []byte) ([]ImageRef, *types.Project, error) {
	secrets := Secrets{}
	if _, err := secrets.EnsureSecrets(project); err != nil {
		return nil, nil, err
	}
	p, err := LoadProject(ctx, project, dir, compose, secrets)
	if err != nil {
		return nil, nil, err
	}
	byImage := map[string][]string{}
	for _, name := range p.ServiceNames() {
		img := p.Services[name].Image
		byImage[img] = append(byImage[img], name)
	}
	var refs []ImageRef
	for img, services := range byImage {
		refs = append(refs, ImageRef{Image: img, Services: services})
	}
	slices.SortFunc(refs, func(x, y ImageRef) int { return strings.Compare(x.Image, y.Image) })
	return refs, p, nil
}

// saveImages pulls what is missing (with the install's progress display), then streams the
// engine's tar of every image into file, through a temporary file so an interrupted save never
// leaves a truncated bundle under the real name.
func (a *App) saveImages(ctx context.Context, refs []ImageRef, p *types.Project, file string) error {
	// The destination first: a FILE nobody can write must not cost a pull.
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*")
	if err != nil {
		return WithHint(fmt.Errorf("writing %s: %w", file, err), "pass a FILE in a directory you can write to")
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	defer tmp.Close()

	docker, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	var names []string
	needPull := false
	for _, r := range refs {
		names = append(names, r.Image)
		if _, err := docker.API.ImageInspect(ctx, r.Image); err != nil {
			needPull = true
		}
	}
	if needPull {
		stack, err := NewStack(docker, a.Streams, p.Name)
		if err != nil {
			return err
		}
		if err := stack.Pull(ctx, p); err != nil {
			return err
		}
	}
	var total int64 // what the archive will roughly hold, for the progress bar
	for _, name := range names {
		if ins, err := docker.API.ImageInspect(ctx, name); err == nil {
			total += ins.Size
		}
	}

	rc, err := docker.API.ImageSave(ctx, names)
	if err != nil {
		return WithHint(fmt.Errorf("asking the engine for the images: %w", err), "run `dataeco doctor`")
	}
	defer rc.Close()
	var out io.Writer = tmp
	var gz *gzip.Writer
	if strings.HasSuffix(file, ".gz") || strings.HasSuffix(file, ".tgz") {
		gz = gzip.NewWriter(tmp)
		out = gz
	}
	fmt.Fprintf(a.Streams.ErrOut, "saving %d images (%s) to %s\n", len(names), humanBytes(total), file)
	start := time.Now()
	bar := a.byteBar(total, "saving images")
	n, err := io.Copy(io.MultiWriter(out, bar), rc)
	_ = bar.Finish()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return WithHint(fmt.Errorf("saving the images: %w", err), "check the free space where FILE goes, and run `dataeco doctor`")
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
	fi, _ := os.Stat(abs)
	size := n
	if fi != nil {
		size = fi.Size()
	}
	fmt.Fprintf(a.Streams.ErrOut, "saved in %s; on the offline machine: dataeco images load %s\n", time.Since(start).Round(time.Second), filepath.Base(file))
	fmt.Fprintf(a.Streams.Out, "%s\t%d images\t%s\n", file, len(names), humanBytes(size))
	return nil
}

// loadImages hands file (plain or gzip-compressed; the engine reads both) to the engine and
// prints the images it loaded.
func (a *App) loadImages(ctx context.Context, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return WithHint(fmt.Errorf("reading %s: %w", file, err), "pass the file `dataeco images save` wrote")
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
	fmt.Fprintf(a.Streams.ErrOut, "loading %s (%s)\n", file, humanBytes(fi.Size()))
	bar := a.byteBar(fi.Size(), "loading images")
	res, err := docker.API.ImageLoad(ctx, io.TeeReader(f, bar), client.ImageLoadWithQuiet(true))
	if err != nil {
		_ = bar.Finish()
		return WithHint(fmt.Errorf("loading %s: %w", file, err), "run `dataeco doctor`")
	}
	defer res.Close()
	loaded, err := loadedImages(res)
	_ = bar.Finish()
	if err != nil {
		return WithHint(fmt.Errorf("loading %s: %w", file, err), "is it a file written by `dataeco images save` (or `docker save`)?")
	}
	for _, ref := range loaded {
		fmt.Fprintln(a.Streams.Out, ref)
	}
	fmt.Fprintf(a.Streams.ErrOut, "loaded %d images; `dataeco install` uses them without pulling\n", len(loaded))
	return nil
}

// loadedImages reads the engine's JSON messages for a load: one "Loaded image: REF" per image,
// or an error message when the file is not an image archive.
func loadedImages(r io.Reader) ([]string, error) {
	var loaded []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			continue
		}
		if msg.Error != "" {
			return loaded, errors.New(msg.Error)
		}
		for _, line := range strings.Split(msg.Stream, "\n") {
			if ref, ok := strings.CutPrefix(strings.TrimSpace(line), "Loaded image: "); ok {
				loaded = append(loaded, ref)
			} else if id, ok := strings.CutPrefix(strings.TrimSpace(line), "Loaded image ID: "); ok {
				loaded = append(loaded, id)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return loaded, err
	}
	if len(loaded) == 0 {
		return nil, errors.New("the engine loaded no image from it")
	}
	return loaded, nil
}

// byteBar counts bytes on stderr: a bar on a terminal, nothing otherwise (the lines before
// and after say what happened). total is an estimate; the bar grows past it rather than
// failing the copy it watches.
func (a *App) byteBar(total int64, desc string) *byteCounter {
	b := &byteCounter{max: max(total, 1)}
	if !a.Streams.ErrTTY {
		return b
	}
	b.bar = bytesBar(a.Streams.ErrOut, b.max, a.Streams.Color)
	b.bar.Describe(desc)
	return b
}

type byteCounter struct {
	bar      *progressbar.ProgressBar
	n, max   int64
	finished bool
}

func (b *byteCounter) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if b.bar != nil {
		if b.n > b.max {
			b.max = b.n + b.n/10
			b.bar.ChangeMax64(b.max)
		}
		_ = b.bar.Set64(b.n)
	}
	return len(p), nil
}

func (b *byteCounter) Finish() error {
	if b.bar != nil && !b.finished {
		b.finished = true
		return b.bar.Clear()
	}
	return nil
}
