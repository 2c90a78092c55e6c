// Package hint is the error every layer of dataeco returns when it knows what the user should
// try next: a cause, the exact command, flag or setting to try, and the exit code. It sits at
// the bottom so the stack model and the engine driver can say what to do without knowing how
// the CLI prints it; the CLI renders it once, at the top.
package hint

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Exit codes, as documented in the README.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// Error is a failure that knows what the user should try next. Errors are wrapped with
// context where they happen and rendered once, by Render, at the top.
type Error struct {
	Code int
	Err  error
	// Hint names the exact command, flag or setting to try; empty when there is none.
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap makes err exit 1 and print hint, keeping err's chain.
func Wrap(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Code: ExitFailure, Err: err, Hint: hint}
}

// New is an exit-1 error with a hint.
func New(hint string, err error) *Error { return &Error{Code: ExitFailure, Err: err, Hint: hint} }

// Usage is a bad flag value or a missing answer: exit 2, naming the flag and a good value.
func Usage(flag, example, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	h := ""
	if example != "" {
		h = fmt.Sprintf("for example: %s %s", flag, example)
	}
	return &Error{Code: ExitUsage, Err: fmt.Errorf("invalid value for %s: %s", flag, msg), Hint: h}
}

// UsageHint is exit 2 with a hint of the caller's own.
func UsageHint(hint string, err error) error { return &Error{Code: ExitUsage, Err: err, Hint: hint} }

// ErrInterrupted marks a run stopped by Ctrl-C, so it exits 130 rather than 1.
var ErrInterrupted = errors.New("interrupted")

// Of returns the hint in err's chain, or "".
func Of(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, ErrInterrupted) || errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var e *Error
	if errors.As(err, &e) && e.Code != 0 {
		return e.Code
	}
	return ExitFailure
}

// Render prints err and its hint once.
func Render(w io.Writer, err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(w, "error: %v\n", err)
	if h := Of(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}
