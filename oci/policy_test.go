package oci_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

func TestTagPolicyLatest(t *testing.T) {
	t.Parallel()
	tags := []string{"1.0.0", "v1.2.0", "1.2.0", "1.10.0-rc.1", "1.9.3", "latest", "main-20261201-abc", "main-20261130-def", "7", "10", "2.5", "-1"}
	for _, tc := range []struct {
		name      string
		spec      oci.TagPolicySpec
		tags      []string
		tag, want string
	}{
		{"semver any", oci.TagPolicySpec{SemVer: "*"}, tags[:7], "1.9.3", "1.9.3"},
		{"semver reads a bare number as a version, as Flux does", oci.TagPolicySpec{SemVer: "*"}, tags, "10", "10"},
		{"semver range", oci.TagPolicySpec{SemVer: "<1.5"}, tags, "1.2.0", "1.2.0"},
		{"semver prerelease named by the range", oci.TagPolicySpec{SemVer: ">=1.10.0-0 <2"}, tags, "1.10.0-rc.1", "1.10.0-rc.1"},
		{"semver v prefix, tie to the first in byte order", oci.TagPolicySpec{SemVer: "~1.2"}, []string{"v1.2.0", "1.2.0"}, "1.2.0", "1.2.0"},
		{"semver extracted", oci.TagPolicySpec{SemVer: ">=1", FilterPattern: `^release-(?P<v>.*)$`, Extract: "$v"},
			[]string{"release-1.4.0", "release-1.10.0", "1.99.0"}, "release-1.10.0", "1.10.0"},
		{"alphabetical asc: the greatest", oci.TagPolicySpec{Alphabetical: oci.Ascending, FilterPattern: `^main-`}, tags, "main-20261201-abc", "main-20261201-abc"},
		{"alphabetical desc: the smallest", oci.TagPolicySpec{Alphabetical: oci.Descending, FilterPattern: `^main-`}, tags, "main-20261130-def", "main-20261130-def"},
		{"alphabetical on an extracted timestamp", oci.TagPolicySpec{Alphabetical: oci.Ascending, FilterPattern: `^main-(?P<ts>\d+)-(?P<sha>[a-f]+)$`, Extract: "$ts"},
			tags, "main-20261201-abc", "20261201"},
		{"numerical asc, not numbers skipped", oci.TagPolicySpec{Numerical: oci.Ascending}, tags, "10", "10"},
		{"numerical desc", oci.TagPolicySpec{Numerical: oci.Descending}, []string{"7", "10", "2.5"}, "2.5", "2.5"},
		{"numerical on a build number", oci.TagPolicySpec{Numerical: oci.Ascending, FilterPattern: `^build-(\d+)$`, Extract: "${1}"},
			[]string{"build-9", "build-10", "build-x"}, "build-10", "10"},
		{"numerical: Inf and NaN are not numbers", oci.TagPolicySpec{Numerical: oci.Ascending}, []string{"Inf", "NaN", "3"}, "3", "3"},
		{"tags a registry should not send are skipped", oci.TagPolicySpec{Alphabetical: oci.Ascending},
			[]string{"a", strings.Repeat("z", 129), "../z", "z z", ".z", "b"}, "b", "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := oci.NewTagPolicy(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Latest(tc.tags)
			if err != nil {
				t.Fatal(err)
			}
			if got.Tag != tc.tag || got.Value != tc.want {
				t.Errorf("Latest = %+v, want tag %q value %q", got, tc.tag, tc.want)
			}
			// The choice does not depend on the order the registry listed
			// the tags in.
			rev := make([]string, len(tc.tags))
			for i, tag := range tc.tags {
				rev[len(tc.tags)-1-i] = tag
			}
			if again, err := p.Latest(rev); err != nil || again != got {
				t.Errorf("reversed input: %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestTagPolicyNoMatch(t *testing.T) {
	t.Parallel()
	p, err := oci.NewTagPolicy(oci.TagPolicySpec{SemVer: ">=3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tags := range [][]string{nil, {"1.0.0", "latest"}} {
		if _, err := p.Latest(tags); !errors.Is(err, oci.ErrNoMatchingTag) {
			t.Errorf("Latest(%q) = %v, want ErrNoMatchingTag", tags, err)
		}
	}
}

func TestNewTagPolicyRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec oci.TagPolicySpec
		msg  string
	}{
		{oci.TagPolicySpec{}, "exactly one of semver, alphabetical and numerical, got 0"},
		{oci.TagPolicySpec{SemVer: "*", Numerical: oci.Ascending}, "got 2"},
		{oci.TagPolicySpec{Alphabetical: "up"}, `alphabetical order "up"`},
		{oci.TagPolicySpec{Numerical: "ASC"}, `numerical order "ASC"`},
		{oci.TagPolicySpec{SemVer: "not a range"}, `semver range "not a range"`},
		{oci.TagPolicySpec{SemVer: "*", FilterPattern: "("}, "filter pattern"},
		{oci.TagPolicySpec{SemVer: "*", Extract: "$1"}, "needs a filter pattern"},
		{oci.TagPolicySpec{SemVer: "*", FilterPattern: `^(?P<v>.*)$`, Extract: "$ts"}, `group "ts"`},
		{oci.TagPolicySpec{SemVer: "*", FilterPattern: `^(.*)$`, Extract: "$2"}, "group 2, the pattern has 1"},
		{oci.TagPolicySpec{SemVer: "*", FilterPattern: `^(.*)$`, Extract: "${1"}, "unclosed"},
		{oci.TagPolicySpec{SemVer: "*", FilterPattern: `^(.*)$`, Extract: "v$"}, "ends with '$'"},
		{oci.TagPolicySpec{SemVer: "*", FilterPattern: `^(.*)$`, Extract: "${}"}, "empty group reference"},
	} {
		_, err := oci.NewTagPolicy(tc.spec)
		if !errors.Is(err, oci.ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("NewTagPolicy(%+v) = %v, want ErrInvalidPolicy saying %q", tc.spec, err, tc.msg)
		}
	}
	// "$$" is a literal dollar, not a group.
	if _, err := oci.NewTagPolicy(oci.TagPolicySpec{Alphabetical: oci.Ascending, FilterPattern: `^(.*)$`, Extract: "$$${1}"}); err != nil {
		t.Errorf("literal dollar: %v", err)
	}
}

// The policy over a real registry's tag list: the exclusion list and the
// support tags are dropped by List, the policy picks among the rest, and
// the digest of the choice is resolved.
func TestTagPolicyOverARegistry(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	repo := reg.Repo("policy")
	seedTags(t, c, repo, "1.0.0", "1.1.0", "1.2.0-debug", "sha256-"+strings.Repeat("a", 64)+".sig")
	tags, err := c.List(ctx(t), repo, oci.ListOptions{Exclude: []string{`-debug$`}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := oci.NewTagPolicy(oci.TagPolicySpec{SemVer: ">=1.0.0-0"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Latest(tags)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tag != "1.1.0" {
		t.Fatalf("Latest = %+v, want 1.1.0 (1.2.0-debug excluded)", got)
	}
	d, err := c.Resolve(ctx(t), repo+":"+got.Tag)
	if err != nil || !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("Resolve = %q, %v", d, err)
	}
}

func FuzzTagPolicy(f *testing.F) {
	f.Add("^main-(?P<ts>\\d+)$", "$ts", 1, "main-1,main-20,main-x")
	f.Add("", "", 0, "1.0.0,v2,latest")
	f.Add("(a)(b)?", "${2}$1$$", 2, "ab,a,ba")
	f.Fuzz(func(t *testing.T, pattern, extract string, kind int, list string) {
		spec := oci.TagPolicySpec{FilterPattern: pattern, Extract: extract}
		switch kind % 3 {
		case 0:
			spec.SemVer = "*"
		case 1:
			spec.Alphabetical = oci.Descending
		default:
			spec.Numerical = oci.Ascending
		}
		p, err := oci.NewTagPolicy(spec)
		if err != nil {
			if !errors.Is(err, oci.ErrInvalidPolicy) {
				t.Fatalf("error %v is not ErrInvalidPolicy", err)
			}
			return
		}
		tags := strings.Split(list, ",")
		got, err := p.Latest(tags)
		if err != nil {
			if !errors.Is(err, oci.ErrNoMatchingTag) {
				t.Fatalf("error %v is not ErrNoMatchingTag", err)
			}
			return
		}
		found := false
		for _, tag := range tags {
			found = found || tag == got.Tag
		}
		if !found {
			t.Fatalf("Latest chose %q, not among %q", got.Tag, tags)
		}
	})
}

// BenchmarkTagPolicy selects among 10,000 tags, as an ImagePolicy does on
// every scan of a busy repository.
func BenchmarkTagPolicy(b *testing.B) {
	tags := make([]string, 10_000)
	for i := range tags {
		switch i % 3 {
		case 0:
			tags[i] = fmt.Sprintf("%d.%d.%d", i/1000, i/100%10, i%100)
		case 1:
			tags[i] = fmt.Sprintf("main-%d-%07x", 20260000+i, i)
		default:
			tags[i] = fmt.Sprint(i)
		}
	}
	for _, bc := range []struct {
		name string
		spec oci.TagPolicySpec
	}{
		{"semver", oci.TagPolicySpec{SemVer: ">=1.0.0"}},
		{"alphabetical-extract", oci.TagPolicySpec{Alphabetical: oci.Ascending, FilterPattern: `^main-(?P<ts>\d+)-[a-f0-9]+$`, Extract: "$ts"}},
		{"numerical", oci.TagPolicySpec{Numerical: oci.Ascending}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := oci.NewTagPolicy(bc.spec)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Latest(tags); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
