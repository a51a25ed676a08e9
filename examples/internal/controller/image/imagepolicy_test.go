package image

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// Each policy kind chooses from the scanned tags, with filterTags keeping
// and extracting the compared value.
func TestImagePolicyChoices(t *testing.T) {
	h := newHarness(t)
	reg := ocitest.New(t)
	for _, tag := range []string{"1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "v0.9.0",
		"build-20240101", "build-20241231", "main-3-abc", "main-12-def", "5", "40", "300"} {
		pushImage(t, reg, "app", tag)
	}
	repo := imageRepository("app", reg, "app")
	h.create(repo)
	h.waitReady(repo)

	alpha := func(order string) imagev1.ImagePolicyChoice {
		return imagev1.ImagePolicyChoice{Alphabetical: &imagev1.AlphabeticalPolicy{Order: order}}
	}
	num := func(order string) imagev1.ImagePolicyChoice {
		return imagev1.ImagePolicyChoice{Numerical: &imagev1.NumericalPolicy{Order: order}}
	}
	filter := func(pattern, extract string) func(*imagev1.ImagePolicySpec) {
		return func(s *imagev1.ImagePolicySpec) {
			s.FilterTags = &imagev1.TagFilter{Pattern: pattern, Extract: extract}
		}
	}
	for _, tc := range []struct {
		name   string
		policy imagev1.ImagePolicyChoice
		filter func(*imagev1.ImagePolicySpec)
		want   string
	}{
		{"semver-1x", semverPolicy(">=1.0.0 <2.0.0"), nil, "1.10.0"},
		{"semver-prerelease", semverPolicy(">=2.0.0-0 <3.0.0"), nil, "2.0.0-rc.1"},
		{"semver-below-1", semverPolicy("<1.0.0"), nil, "v0.9.0"},
		{"alpha-asc", alpha("asc"), filter(`^build-`, ""), "build-20241231"},
		{"alpha-desc", alpha("desc"), filter(`^build-`, ""), "build-20240101"},
		{"num-extract", num("asc"), filter(`^main-(?P<n>[0-9]+)-`, "$n"), "main-12-def"},
		{"num-asc", num("asc"), filter(`^[0-9]+$`, ""), "300"},
		{"num-desc", num("desc"), filter(`^[0-9]+$`, ""), "5"},
		{"semver-extract", semverPolicy("*"), filter(`^build-(?P<v>[0-9]+)$`, "$v"), "build-20241231"},
	} {
		var mutate []func(*imagev1.ImagePolicySpec)
		if tc.filter != nil {
			mutate = append(mutate, tc.filter)
		}
		p := imagePolicy(tc.name, "app", tc.policy, mutate...)
		h.create(p)
		h.waitReady(p)
		want := imagev1.ImageRef{Name: reg.Repo("app"), Tag: tc.want}
		if got := p.Status.LatestRef; got == nil || *got != want {
			t.Errorf("%s: latestRef %+v, want %+v", tc.name, got, want)
		}
		if msg := conditions.Get(p, conditions.Ready).Message; msg != "latest image is "+want.String() {
			t.Errorf("%s: Ready message %q", tc.name, msg)
		}
		if p.Status.ObservedScanRevision != repo.Status.LastScanResult.Revision {
			t.Errorf("%s: observed scan %q, want %q", tc.name, p.Status.ObservedScanRevision, repo.Status.LastScanResult.Revision)
		}
	}
}

// A new tag in a rescan moves the policy (its ImageRepository's revision
// changed: nothing asks the policy itself), keeping the previous image.
func TestImagePolicyFollowsNewTag(t *testing.T) {
	h := newHarness(t)
	reg := ocitest.New(t)
	pushImage(t, reg, "app", "v1.0.0")
	pushImage(t, reg, "app", "v1.1.0")
	repo := imageRepository("app", reg, "app")
	h.create(repo)
	h.waitReady(repo)
	p := imagePolicy("app", "app", semverPolicy("1.x"))
	h.create(p)
	h.waitReady(p)
	if p.Status.LatestRef.Tag != "v1.1.0" {
		t.Fatalf("latestRef %+v", p.Status.LatestRef)
	}
	pushImage(t, reg, "app", "v1.2.0")
	pushImage(t, reg, "app", "v2.0.0")
	h.request(repo)
	h.waitFor(p, "latestRef v1.2.0", func() bool { return p.Status.LatestRef.Tag == "v1.2.0" })
	if prev := p.Status.ObservedPreviousRef; prev == nil || prev.Tag != "v1.1.0" {
		t.Errorf("observedPreviousRef %+v", prev)
	}
	h.waitEvent("Normal ImageChanged latest image of 'app' changed from " + reg.Repo("app") + ":v1.1.0 to " + reg.Repo("app") + ":v1.2.0")
}

// Digest reflection: Never leaves the digest out; IfNotPresent looks it up
// once per tag (a re-pushed tag keeps the digest first seen); Always looks
// it up at every run, so a moved tag is seen.
func TestImagePolicyDigestReflection(t *testing.T) {
	h := newHarness(t)
	reg := ocitest.New(t)
	first := pushImage(t, reg, "app", "v1.0.0")
	repo := imageRepository("app", reg, "app")
	h.create(repo)
	h.waitReady(repo)
	reflect := func(name string, p imagev1.ReflectionPolicy) *imagev1.ImagePolicy {
		obj := imagePolicy(name, "app", semverPolicy("*"), func(s *imagev1.ImagePolicySpec) {
			s.DigestReflectionPolicy = p
			if p == imagev1.ReflectAlways {
				s.Interval = &metav1.Duration{Duration: time.Hour}
			}
		})
		h.create(obj)
		h.waitReady(obj)
		return obj
	}
	never := reflect("never", imagev1.ReflectNever)
	once := reflect("once", imagev1.ReflectIfNotPresent)
	always := reflect("always", imagev1.ReflectAlways)
	if never.Status.LatestRef.Digest != "" {
		t.Errorf("Never: digest %q", never.Status.LatestRef.Digest)
	}
	for _, p := range []*imagev1.ImagePolicy{once, always} {
		if p.Status.LatestRef.Digest != first {
			t.Errorf("%s: digest %q, want %q", p.Name, p.Status.LatestRef.Digest, first)
		}
	}
	if !strings.Contains(conditions.Get(always, conditions.Ready).Message, "@"+first) {
		t.Errorf("Always: the Ready message does not show the digest: %s", conditions.Get(always, conditions.Ready).Message)
	}

	moved := pushImage(t, reg, "app", "v1.0.0")
	if moved == first {
		t.Fatal("the re-push made the same digest")
	}
	h.request(once)
	h.request(always)
	if once.Status.LatestRef.Digest != first {
		t.Errorf("IfNotPresent: digest %q changed for the same tag", once.Status.LatestRef.Digest)
	}
	if always.Status.LatestRef.Digest != moved {
		t.Errorf("Always: digest %q, want the moved tag's %q", always.Status.LatestRef.Digest, moved)
	}
	if prev := always.Status.ObservedPreviousRef; prev == nil || prev.Digest != first {
		t.Errorf("Always: observedPreviousRef %+v", prev)
	}
}

// Bad input: a filter that is not a regular expression or an extract
// naming a group the filter lacks stalls; no matching tag and a missing
// ImageRepository are Ready=False and retried.
func TestImagePolicyFailures(t *testing.T) {
	h := newHarness(t)
	reg := ocitest.New(t)
	pushImage(t, reg, "app", "v1.0.0")
	repo := imageRepository("app", reg, "app")
	h.create(repo)
	h.waitReady(repo)

	for name, tc := range map[string]struct {
		filter *imagev1.TagFilter
		text   string
	}{
		"bad-regex":   {&imagev1.TagFilter{Pattern: "^v(["}, "filter pattern"},
		"bad-extract": {&imagev1.TagFilter{Pattern: "^v(?P<v>.*)$", Extract: "$version"}, `"version"`},
	} {
		p := imagePolicy(name, "app", semverPolicy("*"), func(s *imagev1.ImagePolicySpec) { s.FilterTags = tc.filter })
		h.create(p)
		c := h.waitNotReady(p, reasonInvalidPolicy)
		if !conditions.IsTrue(p, conditions.Stalled) || !strings.Contains(c.Message, tc.text) {
			t.Errorf("%s: conditions %+v", name, p.Status.Conditions)
		}
	}
	none := imagePolicy("none", "app", semverPolicy(">=3.0.0"))
	h.create(none)
	if c := h.waitNotReady(none, reasonNoMatchingTag); !strings.Contains(c.Message, "no matching tag") || conditions.IsTrue(none, conditions.Stalled) {
		t.Errorf("no matching tag: %+v", none.Status.Conditions)
	}
	missing := imagePolicy("missing", "nothere", semverPolicy("*"))
	h.create(missing)
	if c := h.waitNotReady(missing, reasonRepositoryNotFound); !strings.Contains(c.Message, "nothere") {
		t.Errorf("missing repository: %+v", missing.Status.Conditions)
	}
	// Created later, the repository's first scan reconciles the policy.
	late := imageRepository("nothere", reg, "app")
	h.create(late)
	h.waitReady(missing)
}
