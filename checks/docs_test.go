package checks

import (
	"os"
	"regexp"
	"testing"
)

// TestEveryCheckHasADocsSection: the fix a check prints points at docs/checks.md#ID, so the
// section must be there.
func TestEveryCheckHasADocsSection(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/checks.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range [][]Check{Prerequisites(), StackChecks(), SmokeChecks()} {
		for _, c := range list {
			if !regexp.MustCompile(`(?m)^#{2,3} ` + regexp.QuoteMeta(c.ID) + `$`).Match(doc) {
				t.Errorf("docs/checks.md has no section for the check %s", c.ID)
			}
		}
	}
}
