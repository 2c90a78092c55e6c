package installer

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams carries the three standard streams and the terminal decisions made about them,
// so every command writes through one value and tests can swap in buffers.
// Results go to Out; progress, prompts and hints go to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// InTTY and ErrTTY decide whether we may prompt and whether progress may redraw lines.
	InTTY  bool
	OutTTY bool
	ErrTTY bool
	// Color is false under NO_COLOR, TERM=dumb or when stderr is not a terminal.
	Color bool
}

// System returns the process's streams with terminal detection done once.
func System(getenv func(string) string) *IOStreams {
	s := &IOStreams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	smart := smartTerminal(s.ErrTTY, getenv)
	s.ErrTTY = smart
	s.Color = smart && getenv("NO_COLOR") == ""
	return s
}

// smartTerminal says whether a terminal can take cursor movement; TERM=dumb (Emacs shells,
// some CI runners) cannot, even though it is a terminal.
func smartTerminal(isTTY bool, getenv func(string) string) bool {
	if !isTTY {
		return false
	}
	return getenv("TERM") != "dumb"
}

// CanPrompt is true only when a person can both see a question and answer it.
func (s *IOStreams) CanPrompt() bool { return s.InTTY && s.ErrTTY }

// TestStreams returns streams backed by buffers, with no terminal.
func TestStreams() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}
