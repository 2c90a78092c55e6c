package installer

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

// Failf returns an exit-1 error with a hint.
func Failf(hint, format string, args ...any) error {
	return &Error{Code: ExitFailure, Err: fmt.Errorf(format, args...), Hint: hint}
}

// WithHint wraps err so that it exits 1 and prints hint, keeping err's chain.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Code: ExitFailure, Err: err, Hint: hint}
}

// UsageError is a bad flag value or a missing answer: exit 2, naming the flag and a good value.
func UsageError(flag, example, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	hint := ""
	if example != "" {
		hint = fmt.Sprintf("for example: %s %s", flag, example)
	}
	return &Error{Code: ExitUsage, Err: fmt.Errorf("invalid value for %s: %s", flag, msg), Hint: hint}
}

// errInterrupted marks a run stopped by Ctrl-C, so it exits 130 rather than 1.
var errInterrupted = errors.New("interrupted")

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, errInterrupted) || errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var e *Error
	if errors.As(err, &e) && e.Code != 0 {
		return e.Code
	}
	return ExitFailure
}

// RenderError prints err and its hint once, on stderr.
func RenderError(w io.Writer, err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(w, "error: %v\n", err)
	var e *Error
	if errors.As(err, &e) && e.Hint != "" {
		fmt.Fprintf(w, "hint: %s\n", e.Hint)
	}
}
