package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/schollz/progressbar/v3"
)

// Progress turns Compose's events into what the user sees on stderr: during pulls, one
// aggregate byte bar across every image plus a line per image; then a line each time a
// service moves on (created, started, healthy). Without a terminal it writes plain lines
// with no escape codes, throttled so CI logs stay readable.
//
// It implements api.EventProcessor and is safe for concurrent use: Compose calls it from many
// goroutines, and the readiness watcher reports health through ServiceState.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	color   bool
	project string
	now     func() time.Time

	images    map[string]*imageProgress // by "Image <ref>"
	imageKeys []string
	bar       *progressbar.ProgressBar
	lastPlain time.Time

	services map[string]string // service -> last state shown
	started  map[string]time.Time
	building string // the build output line shown in place, on a terminal
}

type imageProgress struct {
	ref    string
	layers map[string]*layerProgress
	done   bool
	failed string
}

type layerProgress struct{ current, total int64 }

// Output is where the engine shows progress: a writer (the CLI's stderr) and what it may do
// there. TTY allows redrawn bars and marks; Color allows escape codes.
type Output struct {
	W     io.Writer
	TTY   bool
	Color bool
}

// NewProgress writes to out.
func NewProgress(out Output, project string) *Progress {
	return &Progress{
		w: out.W, tty: out.TTY, color: out.Color, project: project, now: time.Now,
		images: map[string]*imageProgress{}, services: map[string]string{}, started: map[string]time.Time{},
	}
}

var _ api.EventProcessor = (*Progress)(nil)

// Start is called by Compose when an operation begins.
func (p *Progress) Start(context.Context, string) {}

// Done is called by Compose when an operation ends. The success flag is not used: v5.6.0
// passes it inverted, and our callers already have the operation's error.
func (p *Progress) Done(string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
}

// On receives Compose's resource events.
func (p *Progress) On(events ...api.Resource) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		switch {
		case strings.HasPrefix(e.ID, "Image "):
			p.onImage(e)
		case strings.HasPrefix(e.ParentID, "Image "):
			p.onLayer(e)
		case strings.HasPrefix(e.ID, "Container "):
			p.onContainer(e)
		}
	}
}

func (p *Progress) image(id string) *imageProgress {
	img := p.images[id]
	if img == nil {
		img = &imageProgress{ref: strings.TrimPrefix(id, "Image "), layers: map[string]*layerProgress{}}
		p.images[id] = img
		p.imageKeys = append(p.imageKeys, id)
	}
	return img
}

func (p *Progress) onImage(e api.Resource) {
	img := p.image(e.ID)
	switch {
	case e.Status == api.Error:
		img.failed = e.Details
		p.line(fmt.Sprintf("%s pull failed: %s  %s", p.mark(false), img.ref, e.Details))
	case e.Text == api.StatusPulled && !img.done:
		img.done = true
		for _, l := range img.layers {
			l.current = l.total
		}
		_, total := img.bytes()
		p.line(fmt.Sprintf("%s pulled %s (%s)", p.mark(true), img.ref, HumanBytes(total)))
	case e.Text == api.StatusPulling && len(img.layers) == 0:
		if !p.tty {
			p.line(fmt.Sprintf("  pulling %s", img.ref))
		}
	}
	p.updateBar()
}

func (p *Progress) onLayer(e api.Resource) {
	img := p.image(e.ParentID)
	l := img.layers[e.ID]
	if l == nil {
		l = &layerProgress{}
		img.layers[e.ID] = l
	}
	// Only the download phase counts towards bytes; extraction reports its own progress.
	switch e.Text {
	case "Downloading":
		if e.Total > 0 {
			l.total = e.Total
		}
		l.current = e.Current
	case "Download complete", "Pull complete", "Already exists":
		l.current = l.total
	}
	p.updateBar()
}

func (im *imageProgress) bytes() (current, total int64) {
	for _, l := range im.layers {
		current += l.current
		total += l.total
	}
	return current, total
}

func (p *Progress) totals() (current, total int64, done, count int) {
	for _, img := range p.images {
		c, t := img.bytes()
		current += c
		total += t
		if img.done {
			done++
		}
	}
	return current, total, done, len(p.images)
}

func (p *Progress) updateBar() {
	current, total, done, count := p.totals()
	desc := fmt.Sprintf("pulling images %d/%d", done, count)
	if !p.tty {
		if p.now().Sub(p.lastPlain) >= 5*time.Second && total > 0 && done < count {
			p.lastPlain = p.now()
			fmt.Fprintf(p.w, "  %s: %s of %s\n", desc, HumanBytes(current), HumanBytes(total))
		}
		return
	}
	if total == 0 {
		return
	}
	if p.bar == nil {
		p.bar = newBar(p.w, total, p.color)
	}
	p.bar.ChangeMax64(total)
	p.bar.Describe(desc)
	_ = p.bar.Set64(current)
}

// newBar is the bar every transfer of bytes draws on a terminal: pulls, image saves, loads.
func newBar(w io.Writer, total int64, color bool) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionEnableColorCodes(color),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseANSICodes(true),
	)
}

func (p *Progress) finishBar() {
	if p.bar != nil {
		_ = p.bar.Clear()
		p.bar = nil
	}
}

// Line prints a line of the caller's among the progress lines.
func (p *Progress) Line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(s)
}

// line prints a full line above the bar, which is drawn again on the next update.
func (p *Progress) line(s string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
	if p.bar != nil {
		_ = p.bar.RenderBlank()
	}
}

func (p *Progress) onContainer(e api.Resource) {
	svc := p.serviceOf(strings.TrimPrefix(e.ID, "Container "))
	switch e.Text {
	case api.StatusCreated:
		p.setState(svc, "created", "")
	case "Recreated":
		p.setState(svc, "recreated", "")
	case api.StatusStarted:
		p.setState(svc, "started", "")
	case api.StatusHealthy:
		p.setState(svc, "healthy", "")
	case api.StatusExited:
		// One-shot jobs: the readiness watcher reports them as completed or failed.
	case api.StatusRunning:
		p.setState(svc, "running", "")
	case api.StatusStopped, api.StatusRemoved:
		p.setState(svc, strings.ToLower(e.Text), "")
	case api.StatusError:
		// "dependency X failed to start" names the dependency, not this container; the
		// readiness watcher reports the dependency itself, with a diagnosis.
		if !strings.HasPrefix(e.Details, "dependency ") {
			p.setState(svc, "error", e.Details)
		}
	}
}

// serviceOf maps a container name (project-service-1) back to its service.
func (p *Progress) serviceOf(container string) string {
	s := strings.TrimPrefix(container, p.project+"-")
	if i := strings.LastIndex(s, "-"); i > 0 {
		if _, err := fmt.Sscanf(s[i+1:], "%d", new(int)); err == nil {
			s = s[:i]
		}
	}
	return s
}

// ServiceState reports a state the readiness watcher observed.
func (p *Progress) ServiceState(service, state, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setState(service, state, detail)
}

func (p *Progress) setState(svc, state, detail string) {
	prev := p.services[svc]
	if prev == state && detail == "" {
		return
	}
	// Compose reports "Running" for containers it left alone; after the watcher has seen
	// them healthy that would read as a step backwards.
	if state == "running" && (prev == "healthy" || prev == "completed" || prev == "started") {
		return
	}
	p.finishBar()
	p.services[svc] = state
	switch state {
	case "started":
		p.started[svc] = p.now()
	case "created", "recreated", "running":
		delete(p.started, svc)
	}
	extra := detail
	if state == "healthy" || state == "completed" {
		if t, ok := p.started[svc]; ok {
			extra = fmt.Sprintf("after %s", p.now().Sub(t).Round(time.Second))
		}
	}
	good := state != "error" && state != "failed" && state != "unhealthy"
	mark := "  "
	if state == "healthy" || state == "completed" || !good {
		mark = p.mark(good)
	}
	line := fmt.Sprintf("%s %-24s %s", mark, svc, state)
	if extra != "" {
		line += "  " + extra
	}
	fmt.Fprintln(p.w, strings.TrimRight(line, " "))
}

func (p *Progress) mark(ok bool) string {
	m, code := "✓", "32"
	if !ok {
		m, code = "✗", "31"
	}
	if !p.tty {
		if ok {
			m = "ok"
		} else {
			m = "!!"
		}
	}
	if p.color {
		return "\x1b[" + code + "m" + m + "\x1b[0m"
	}
	return m
}

// HumanBytes writes a byte count in decimal units, as transfers are usually counted.
func HumanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// ByteCounter counts the bytes of a transfer (an image save or load) written through it: a
// bar on a terminal, nothing otherwise (the lines before and after say what happened). The
// total is an estimate; the bar grows past it rather than failing the copy it watches.
type ByteCounter struct {
	bar      *progressbar.ProgressBar
	n, max   int64
	finished bool
}

// NewByteCounter starts a counter of about total bytes, described as desc.
func NewByteCounter(out Output, total int64, desc string) *ByteCounter {
	b := &ByteCounter{max: max(total, 1)}
	if !out.TTY {
		return b
	}
	b.bar = newBar(out.W, b.max, out.Color)
	b.bar.Describe(desc)
	return b
}

func (b *ByteCounter) Write(p []byte) (int, error) {
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

// Finish clears the bar.
func (b *ByteCounter) Finish() error {
	if b.bar != nil && !b.finished {
		b.finished = true
		return b.bar.Clear()
	}
	return nil
}

// BuildStarted reports that an image build begins.
func (p *Progress) BuildStarted(tag, base string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
	p.building = ""
	fmt.Fprintf(p.w, "  building %s from %s\n", tag, base)
}

// BuildOutput shows a build's progress: on a terminal its latest line, redrawn in place;
// otherwise each step of the Dockerfile as it starts.
func (p *Progress) BuildOutput(tag, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		if strings.HasPrefix(line, "Step ") {
			fmt.Fprintf(p.w, "    %s\n", line)
		}
		return
	}
	const width = 76
	if r := []rune(line); len(r) > width {
		line = string(r[:width-1]) + "…"
	}
	p.building = line
	fmt.Fprintf(p.w, "\r\x1b[K    %s", line)
}

// BuildDone reports how a build ended.
func (p *Progress) BuildDone(tag string, took time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.building != "" {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.building = ""
	}
	if ok {
		fmt.Fprintf(p.w, "%s built %s in %s\n", p.mark(true), tag, took.Round(time.Second))
	} else {
		fmt.Fprintf(p.w, "%s building %s failed after %s\n", p.mark(false), tag, took.Round(time.Second))
	}
}
