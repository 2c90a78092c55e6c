package model

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// PinnedImage is an image of the set this release is tested with, and the name --image
// replaces it by (one name for every service that runs it: kafka is the broker and kafka-init).
type PinnedImage struct{ Name, Ref string }

// PinnedImages lists the tested set, in the catalogue's order.
func PinnedImages() []PinnedImage {
	return []PinnedImage{{"kafka", imageKafka}, {"zookeeper", imageZooKeeper}, {"schema-registry", imageSchemaRegistry},
		{"control-center", imageControlCenter}, {"postgres", imagePostgres}, {"airflow", imageAirflow},
		{"spark", imageSpark}, {"cassandra", imageCassandra}}
}

func imageNames() []string {
	var out []string
	for _, p := range PinnedImages() {
		out = append(out, p.Name)
	}
	return out
}

// Override is an image the user chose (--image NAME=REF) in place of a pinned one.
type Override struct {
	Name   string `json:"name"`
	Image  string `json:"image"`  // what the services run (under --registry when it is a Docker Hub name)
	Pinned string `json:"pinned"` // what they would run without the override
}

// ParseImages reads --image: NAME=REF pairs, comma-separated (the flag repeats). REF needs a
// tag or a digest, so a re-install runs what the user tested; NAME= (no REF) goes back to the
// pinned image, which the returned map records as "".
func ParseImages(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, ref, ok := strings.Cut(pair, "=")
		name, ref = strings.TrimSpace(name), strings.TrimSpace(ref)
		if !ok || !slices.Contains(imageNames(), name) {
			return nil, fmt.Errorf("%q is not NAME=REF with NAME one of %s", pair, strings.Join(imageNames(), ", "))
		}
		if ref != "" {
			if err := checkImageRef(ref); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		out[name] = ref
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q names no image", v)
	}
	return out, nil
}

func checkImageRef(ref string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("%q is not an image reference: %v", ref, err)
	}
	if reference.IsNameOnly(named) {
		return fmt.Errorf("%q has no tag or digest: give one (like %s:TAG), so every install runs the same image", ref, ref)
	}
	return nil
}

// MergeImages applies parsed --image pairs to the saved overrides: a pair replaces its name's,
// an empty REF removes it, the others stay.
func MergeImages(saved, given map[string]string) map[string]string {
	out := maps.Clone(saved)
	if out == nil {
		out = map[string]string{}
	}
	for name, ref := range given {
		if ref == "" {
			delete(out, name)
			continue
		}
		out[name] = ref
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ImageOf is the image a service pinned to ref runs under the answers: the user's override
// of it, else ref; either goes under --registry when it is a Docker Hub name (an override
// naming its own registry is used as given).
func (a *Answers) ImageOf(ref string) string {
	for _, p := range PinnedImages() {
		if p.Ref != ref {
			continue
		}
		if o, ok := a.Images[p.Name]; ok {
			if named, err := reference.ParseNormalizedNamed(o); err == nil && reference.Domain(named) == "docker.io" {
				return RewriteImage(a.Registry, reference.FamiliarString(named))
			}
			return o
		}
	}
	return RewriteImage(a.Registry, ref)
}

// Overrides lists the answers' image overrides of installed services, in the catalogue's order.
func (a *Answers) Overrides() []Override {
	var out []Override
	for _, p := range PinnedImages() {
		if _, ok := a.Images[p.Name]; !ok || !a.runs(p.Ref) {
			continue
		}
		out = append(out, Override{Name: p.Name, Image: a.ImageOf(p.Ref), Pinned: RewriteImage(a.Registry, p.Ref)})
	}
	return out
}

// runs says whether some installed service runs the pinned image ref.
func (a *Answers) runs(ref string) bool {
	for _, s := range Catalogue() {
		if s.Image == ref && s.On(a) {
			return true
		}
	}
	return false
}

// imageTag is the tag of ref for the name of an image built from it ("digest" for a digest).
func imageTag(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if t, ok := named.(reference.Tagged); err == nil && ok {
		return t.Tag()
	}
	return "digest"
}
