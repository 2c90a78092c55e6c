package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ImageMove is a service whose existing container runs another image than the definition
// gives it: a new dataeco release with other pinned tags, or an --image override.
type ImageMove struct {
	Service, From, To string
	// Refused says why the move would damage the service's data, and what to do instead;
	// empty when the move is safe to make.
	Refused string
	// Caution is said with a move dataeco cannot judge: a tag that names no version.
	Caution string
}

// ImageMoves compares the images the install's containers run (service → image reference)
// with the definition's, sorted by service. A move between major versions of a service whose
// data is bound to its major (MajorBound) is refused; one whose major cannot be read from
// both tags (latest, a digest) goes ahead with a caution: it is the user's own choice.
func ImageMoves(def *Definition, running map[string]string) []ImageMove {
	var out []ImageMove
	for name, from := range running {
		svc, ok := def.Project.Services[name]
		if !ok || from == "" || from == svc.Image {
			continue
		}
		m := ImageMove{Service: name, From: from, To: svc.Image}
		if row, ok := Lookup(name); ok && row.MajorBound != "" {
			a, okA := majorOf(from)
			b, okB := majorOf(svc.Image)
			switch {
			case !okA || !okB:
				m.Caution = "dataeco cannot tell the two tags' major versions apart; " + row.MajorBound
			case a != b:
				m.Refused = fmt.Sprintf("major %d to %d: %s", a, b, row.MajorBound)
			}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(x, y ImageMove) int { return strings.Compare(x.Service, y.Service) })
	return out
}

// majorOf reads the major version from an image reference's tag: 17 of postgres:17.11-bookworm,
// 5 of cassandra:5.0.9, 3 of v3.2.
func majorOf(ref string) (int, bool) {
	tag := imageTag(ref)
	tag = strings.TrimPrefix(tag, "v")
	end := strings.IndexFunc(tag, func(r rune) bool { return r < '0' || r > '9' })
	if end == -1 {
		end = len(tag)
	}
	n, err := strconv.Atoi(tag[:end])
	return n, err == nil
}
