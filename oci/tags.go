package oci

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
)

// ListOptions filters List. The zero value lists every tag except
// signature, attestation, SBOM and referrers-fallback tags, sorted.
type ListOptions struct {
	// SemVer keeps the tags that parse as semantic versions (a leading "v"
	// is allowed) and satisfy this Masterminds/semver range, highest first.
	// Prereleases match only a range that names one.
	SemVer string
	// TagRegexp keeps the tags this regular expression matches.
	TagRegexp string
	// Exclude drops the tags any of these regular expressions match, as
	// Flux's ImageRepository exclusionList does (signature, attestation and
	// SBOM tags are dropped whatever Exclude says).
	Exclude []string
	// Limit bounds the number of tags read from the registry (default
	// 100,000).
	Limit int
}

const defaultListLimit = 100_000

var (
	// cosign's sha256-<hex>.sig/.att/.sbom tags and the OCI referrers
	// fallback tag sha256-<hex>.
	digestTag = regexp.MustCompile(`^sha256-[a-f0-9]{64}(\..*)?$`)
)

// isSupportTag reports tags that are not artifacts but metadata about one.
func isSupportTag(t string) bool {
	return digestTag.MatchString(t) || strings.HasSuffix(t, ".sig") ||
		strings.HasSuffix(t, ".att") || strings.HasSuffix(t, ".sbom")
}

// List returns the tags of repo (host/repo) that pass the filters of o.
// With o.SemVer they are sorted highest version first; otherwise in
// lexical order.
func (c *Client) List(ctx context.Context, repo string, o ListOptions) ([]string, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, err := c.parseRepo(repo)
	if err != nil {
		return nil, err
	}
	return c.list(ctx, r, o)
}

func (c *Client) list(ctx context.Context, r name.Repository, o ListOptions) ([]string, error) {
	var re *regexp.Regexp
	if o.TagRegexp != "" {
		var err error
		if re, err = regexp.Compile(o.TagRegexp); err != nil {
			return nil, fmt.Errorf("tag regexp: %w", err)
		}
	}
	exclude := make([]*regexp.Regexp, 0, len(o.Exclude))
	for _, x := range o.Exclude {
		re, err := regexp.Compile(x)
		if err != nil {
			return nil, fmt.Errorf("exclude regexp %q: %w", x, err)
		}
		exclude = append(exclude, re)
	}
	var constraint *semver.Constraints
	if o.SemVer != "" {
		var err error
		if constraint, err = semver.NewConstraint(o.SemVer); err != nil {
			return nil, fmt.Errorf("semver range %q: %w", o.SemVer, err)
		}
	}
	limit := o.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	lister, err := c.puller.Lister(ctx, r)
	if err != nil {
		return nil, c.wrap("list "+r.String(), err)
	}
	var tags []string
	seen := 0
	for {
		page, err := lister.Next(ctx)
		if err != nil {
			return nil, c.wrap("list "+r.String(), err)
		}
		for _, t := range page.Tags {
			seen++
			if seen > limit {
				return nil, fmt.Errorf("list %s: %w: more than %d tags", r, ErrTooLarge, limit)
			}
			if isSupportTag(t) || (re != nil && !re.MatchString(t)) || excluded(exclude, t) {
				continue
			}
			tags = append(tags, t)
		}
		if !lister.HasNext() {
			break
		}
	}
	if constraint == nil {
		sort.Strings(tags)
		return tags, nil
	}
	type tv struct {
		tag string
		v   *semver.Version
	}
	var vs []tv
	for _, t := range tags {
		v, err := semver.NewVersion(t)
		if err != nil || !constraint.Check(v) {
			continue
		}
		vs = append(vs, tv{t, v})
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if c := vs[i].v.Compare(vs[j].v); c != 0 {
			return c > 0
		}
		return vs[i].tag < vs[j].tag // "v1.0.0" and "1.0.0": stable choice
	})
	out := make([]string, len(vs))
	for i := range vs {
		out[i] = vs[i].tag
	}
	return out, nil
}

func excluded(res []*regexp.Regexp, tag string) bool {
	for _, re := range res {
		if re.MatchString(tag) {
			return true
		}
	}
	return false
}

// selectTag returns the best tag of r for o: the highest version, or the
// last in lexical order without a semver range.
func (c *Client) selectTag(ctx context.Context, r name.Repository, o ListOptions) (string, error) {
	tags, err := c.list(ctx, r, o)
	if err != nil {
		return "", err
	}
	if len(tags) == 0 {
		return "", fmt.Errorf("%s: %w (semver %q, regexp %q)", r, ErrNoMatchingTag, o.SemVer, o.TagRegexp)
	}
	if o.SemVer != "" {
		return tags[0], nil
	}
	return tags[len(tags)-1], nil
}

// Tag points newTag (a bare tag, e.g. "latest") at the manifest ref names,
// in the same repository.
func (c *Client) Tag(ctx context.Context, ref, newTag string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, err := c.parseRef(ref)
	if err != nil {
		return err
	}
	t, err := name.NewTag(r.Context().String()+":"+newTag, append([]name.Option{name.StrictValidation}, c.nameOpts...)...)
	if err != nil {
		return fmt.Errorf("%w: tag %q", ErrInvalidReference, newTag)
	}
	desc, err := c.puller.Get(ctx, r)
	if err != nil {
		return c.wrap("get manifest "+r.String(), err)
	}
	if err := c.pusher.Push(ctx, t, desc); err != nil {
		return c.wrap("tag "+t.String(), err)
	}
	return nil
}

// Resolve returns the manifest digest (sha256:<hex>) ref points to, with a
// HEAD request when the registry answers it with the digest.
func (c *Client) Resolve(ctx context.Context, ref string) (string, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, err := c.parseRef(ref)
	if err != nil {
		return "", err
	}
	if d, ok := r.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	desc, err := c.puller.Head(ctx, r)
	if err == nil && desc.Digest.Hex != "" {
		return desc.Digest.String(), nil
	}
	_, md, _, err := c.fetchManifest(ctx, ref, "", "")
	if err != nil {
		return "", err
	}
	return md.Digest, nil
}

// Delete deletes what ref names: with a digest, the manifest (and so every
// tag pointing to it, on most registries); with a tag, the tag only, where
// the registry supports it.
func (c *Client) Delete(ctx context.Context, ref string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, err := c.parseRef(ref)
	if err != nil {
		return err
	}
	if err := c.pusher.Delete(ctx, r); err != nil {
		return c.wrap("delete "+r.String(), err)
	}
	return nil
}
