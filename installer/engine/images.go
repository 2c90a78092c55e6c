package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dataeco/dataeco/installer/hint"
	"github.com/moby/moby/client"
)

// Missing lists the images of names the engine does not have.
func (d *Docker) Missing(ctx context.Context, names []string) []string {
	var out []string
	for _, n := range names {
		if _, err := d.API.ImageInspect(ctx, n); err != nil {
			out = append(out, n)
		}
	}
	return out
}

// ImagesSize is what the engine says the images take, a rough size of their archive.
func (d *Docker) ImagesSize(ctx context.Context, names []string) int64 {
	var total int64
	for _, n := range names {
		if ins, err := d.API.ImageInspect(ctx, n); err == nil {
			total += ins.Size
		}
	}
	return total
}

// SaveImages streams the engine's archive of the images into dst, counting bytes on out.
func (d *Docker) SaveImages(ctx context.Context, names []string, dst io.Writer, out Output) (int64, error) {
	total := d.ImagesSize(ctx, names)
	rc, err := d.API.ImageSave(ctx, names)
	if err != nil {
		return 0, hint.Wrap(fmt.Errorf("asking the engine for the images: %w", err), "run `dataeco doctor`")
	}
	defer rc.Close()
	bar := NewByteCounter(out, total, "saving images")
	n, err := io.Copy(io.MultiWriter(dst, bar), rc)
	_ = bar.Finish()
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, hint.Wrap(fmt.Errorf("saving the images: %w", err), "check the free space where FILE goes, and run `dataeco doctor`")
	}
	return n, nil
}

// LoadImages hands an archive (plain or gzip-compressed; the engine reads both) of about size
// bytes to the engine, counting bytes on out, and returns the references it loaded.
func (d *Docker) LoadImages(ctx context.Context, src io.Reader, size int64, out Output) ([]string, error) {
	bar := NewByteCounter(out, size, "loading images")
	defer bar.Finish()
	res, err := d.API.ImageLoad(ctx, io.TeeReader(src, bar), client.ImageLoadWithQuiet(true))
	if err != nil {
		return nil, hint.Wrap(err, "run `dataeco doctor`")
	}
	defer res.Close()
	loaded, err := loadedImages(res)
	if err != nil {
		return nil, hint.Wrap(err, "is it a file written by `dataeco images save` (or `docker save`)?")
	}
	return loaded, nil
}

// loadedImages reads the engine's messages for a load: one "Loaded image: REF" per image,
// or an error message when the file is not an image archive.
func loadedImages(r io.Reader) ([]string, error) {
	var loaded []string
	err := engineLines(r, func(line string) {
		if ref, ok := strings.CutPrefix(line, "Loaded image: "); ok {
			loaded = append(loaded, ref)
		} else if id, ok := strings.CutPrefix(line, "Loaded image ID: "); ok {
			loaded = append(loaded, id)
		}
	})
	if err != nil {
		return loaded, err
	}
	if len(loaded) == 0 {
		return nil, errors.New("the engine loaded no image from it")
	}
	return loaded, nil
}
