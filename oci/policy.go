package oci

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Order is the direction of an alphabetical or numerical TagPolicy.
type Order string

const (
	// Ascending makes the greatest value the latest (the default).
	Ascending Order = "asc"
	// Descending makes the smallest value the latest.
	Descending Order = "desc"
)

// TagPolicySpec says how to choose the latest of a repository's tags, in
// the shape of Flux's ImagePolicy: an optional filter, then exactly one of
// SemVer, Alphabetical or Numerical.
type TagPolicySpec struct {
	// FilterPattern keeps the tags this regular expression matches (RE2,
	// anchored only if it says so).
	FilterPattern string
	// Extract is the value the policy compares, built from the filter's
	// match with regexp.Expand's syntax: "$ts", "${version}", "$1". Empty
	// compares the whole tag. It needs FilterPattern.
	Extract string

	// SemVer chooses the highest version in this Masterminds/semver range
	// ("*" for any). Values are read as Flux reads them (semver.NewVersion:
	// a "v" prefix is accepted, and so is a partial version, "10" being
	// 10.0.0); prereleases only match a range that names one; values that
	// are not versions are skipped.
	SemVer string
	// Alphabetical compares the values as strings (byte order).
	Alphabetical Order
	// Numerical compares the values as numbers (strconv.ParseFloat,
	// finite); values that are not numbers are skipped.
	Numerical Order
}

// TagPolicy is a compiled TagPolicySpec. It holds no state between calls
// and may be used concurrently.
type TagPolicy struct {
	filter     *regexp.Regexp
	extract    string
	constraint *semver.Constraints
	kind       policyKind
	order      Order
}

type policyKind int

const (
	semverPolicy policyKind = iota
	alphabeticalPolicy
	numericalPolicy
)

// ErrInvalidPolicy is returned (wrapped) by NewTagPolicy for a spec that
// cannot select anything: no policy or several, a bad order, a regular
// expression or a range that does not compile, an Extract naming a group
// the pattern does not have.
var ErrInvalidPolicy = errors.New("invalid tag policy")

// maxTagLength is the distribution specification's bound on a tag:
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. Longer or malformed names sent by a
// registry are never a valid choice.
const maxTagLength = 128

// validTag reports whether tag follows the distribution grammar.
func validTag(tag string) bool {
	if tag == "" || len(tag) > maxTagLength || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		switch c := tag[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// NewTagPolicy compiles spec.
func NewTagPolicy(spec TagPolicySpec) (*TagPolicy, error) {
	p := &TagPolicy{extract: spec.Extract}
	set := 0
	if spec.SemVer != "" {
		set++
		c, err := semver.NewConstraint(spec.SemVer)
		if err != nil {
			return nil, fmt.Errorf("%w: semver range %q: %v", ErrInvalidPolicy, spec.SemVer, err)
		}
		p.kind, p.constraint = semverPolicy, c
	}
	for _, o := range []struct {
		order Order
		kind  policyKind
		name  string
	}{{spec.Alphabetical, alphabeticalPolicy, "alphabetical"}, {spec.Numerical, numericalPolicy, "numerical"}} {
		if o.order == "" {
			continue
		}
		set++
		if o.order != Ascending && o.order != Descending {
			return nil, fmt.Errorf("%w: %s order %q is neither %q nor %q", ErrInvalidPolicy, o.name, o.order, Ascending, Descending)
		}
		p.kind, p.order = o.kind, o.order
	}
	if set != 1 {
		return nil, fmt.Errorf("%w: want exactly one of semver, alphabetical and numerical, got %d", ErrInvalidPolicy, set)
	}
	if spec.FilterPattern != "" {
		re, err := regexp.Compile(spec.FilterPattern)
		if err != nil {
			return nil, fmt.Errorf("%w: filter pattern: %v", ErrInvalidPolicy, err)
		}
		p.filter = re
	}
	if spec.Extract != "" {
		if p.filter == nil {
			return nil, fmt.Errorf("%w: extract %q needs a filter pattern", ErrInvalidPolicy, spec.Extract)
		}
		if err := checkTemplate(p.filter, spec.Extract); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkTemplate refuses an Extract template that names a group re does not
// have: regexp.Expand would silently make it empty, and every tag would
// compare equal.
func checkTemplate(re *regexp.Regexp, tmpl string) error {
	names := re.SubexpNames()
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '$' {
			continue
		}
		i++
		if i >= len(tmpl) {
			return fmt.Errorf("%w: extract %q ends with '$'", ErrInvalidPolicy, tmpl)
		}
		if tmpl[i] == '$' {
			continue
		}
		var name string
		if tmpl[i] == '{' {
			end := strings.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return fmt.Errorf("%w: extract %q has an unclosed '${'", ErrInvalidPolicy, tmpl)
			}
			name = tmpl[i+1 : i+end]
			i += end
		} else {
			j := i
			for j < len(tmpl) && (tmpl[j] == '_' || tmpl[j] >= '0' && tmpl[j] <= '9' || tmpl[j] >= 'a' && tmpl[j] <= 'z' || tmpl[j] >= 'A' && tmpl[j] <= 'Z') {
				j++
			}
			name = tmpl[i:j]
			i = j - 1
		}
		if name == "" {
			return fmt.Errorf("%w: extract %q has an empty group reference", ErrInvalidPolicy, tmpl)
		}
		if n, err := strconv.Atoi(name); err == nil {
			if n > re.NumSubexp() {
				return fmt.Errorf("%w: extract %q refers to group %d, the pattern has %d", ErrInvalidPolicy, tmpl, n, re.NumSubexp())
			}
			continue
		}
		if !slices.Contains(names, name) {
			return fmt.Errorf("%w: extract %q refers to group %q, which the pattern does not name", ErrInvalidPolicy, tmpl, name)
		}
	}
	return nil
}

// Candidate is a tag a TagPolicy considered, with the value it compared.
type Candidate struct {
	Tag   string
	Value string
}

// Latest returns the latest of tags under the policy, with the value it
// was chosen by. Tags that are not valid tag names (the distribution
// grammar, at most 128 characters), that the filter does not match, or
// whose value the policy cannot compare (not a version in range, not a
// number) are skipped. Ties between equal values (v1.0.0 and 1.0.0) go to
// the tag first in byte order, so the choice does not depend on the order
// the registry listed them in. No candidate is ErrNoMatchingTag.
func (p *TagPolicy) Latest(tags []string) (Candidate, error) {
	var best Candidate
	var bestVer *semver.Version
	var bestNum float64
	found := false
	for _, tag := range tags {
		value, ok := p.value(tag)
		if !ok {
			continue
		}
		var cmp int
		switch p.kind {
		case semverPolicy:
			v, err := semver.NewVersion(value)
			if err != nil || !p.constraint.Check(v) {
				continue
			}
			if found {
				cmp = v.Compare(bestVer)
			}
			if !found || cmp > 0 || cmp == 0 && tag < best.Tag {
				bestVer = v
			}
		case numericalPolicy:
			n, err := strconv.ParseFloat(value, 64)
			if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
				continue
			}
			if found {
				cmp = compareFloat(n, bestNum)
				if p.order == Descending {
					cmp = -cmp
				}
			}
			if !found || cmp > 0 || cmp == 0 && tag < best.Tag {
				bestNum = n
			}
		case alphabeticalPolicy:
			if found {
				cmp = strings.Compare(value, best.Value)
				if p.order == Descending {
					cmp = -cmp
				}
			}
		}
		if !found || cmp > 0 || cmp == 0 && tag < best.Tag {
			best, found = Candidate{Tag: tag, Value: value}, true
		}
	}
	if !found {
		return Candidate{}, fmt.Errorf("%w among %d tags", ErrNoMatchingTag, len(tags))
	}
	return best, nil
}

// value returns the value the policy compares for tag, or false when the
// tag is skipped before any comparison.
func (p *TagPolicy) value(tag string) (string, bool) {
	if !validTag(tag) {
		return "", false
	}
	if p.filter == nil {
		return tag, true
	}
	m := p.filter.FindStringSubmatchIndex(tag)
	if m == nil {
		return "", false
	}
	if p.extract == "" {
		return tag, true
	}
	return string(p.filter.ExpandString(nil, p.extract, tag, m)), true
}

func compareFloat(a, b float64) int {
	switch {
	case a > b:
		return 1
	case a < b:
		return -1
	}
	return 0
}
