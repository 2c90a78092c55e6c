// Package checks inspects the machine and the running stack and reports what it finds. A
// check never prints and never changes anything: it returns a Result with a stable ID, the
// measured value and the exact fix, and the installer decides how to render it.
package checks

// Status is a check's verdict.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one check's finding. Fix names a command, flag or setting; DocURL points at the
// check's section in docs/checks.md.
type Result struct {
	ID      string            `json:"id"`
	Title   string            `json:"title"`
	Status  Status            `json:"status"`
	Message string            `json:"message"`
	Fix     string            `json:"fix,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	// DurationMS is how long the check took.
	DurationMS int64 `json:"duration_ms"`
	// Diagnoses are the containers a stack check found unwell.
	Diagnoses []*Diagnosis `json:"containers,omitempty"`
}

// DocURL is where a check's documentation section lives, relative to the repository.
func DocURL(id string) string { return "docs/checks.md#" + id }
