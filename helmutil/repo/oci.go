package repo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/gitopskit/kit/oci"
)

// Helm's OCI media types.
const (
	// OCIConfigMediaType is the config blob of a chart pushed by `helm push`.
	OCIConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
	// OCIChartMediaType is the layer holding the chart package.
	OCIChartMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	// OCIProvenanceMediaType is the layer holding the provenance file.
	OCIProvenanceMediaType = "application/vnd.cncf.helm.chart.provenance.v1.prov"
)

// OCIRepository is a chart repository in an OCI registry
// (oci://host/path): the chart <name> is the registry repository
// host/path/<name>, its versions are its tags ("+" written "_"), as `helm
// push` lays them out. Reads go through an oci.Client, with its auth, TLS,
// retries, size limits and signature verification.
type OCIRepository struct {
	base   string // host/path, no scheme, no trailing slash
	client *oci.Client
}

// NewOCIRepository returns the repository at repoURL (oci://host/path),
// read with client.
func NewOCIRepository(repoURL string, client *oci.Client) (*OCIRepository, error) {
	rest, ok := strings.CutPrefix(repoURL, "oci://")
	if !ok || rest == "" || strings.Contains(rest, "@") {
		return nil, fmt.Errorf("%w: want oci://host/path", ErrInvalidURL)
	}
	if client == nil {
		return nil, fmt.Errorf("oci repository: nil client")
	}
	return &OCIRepository{base: strings.TrimSuffix(rest, "/"), client: client}, nil
}

// URL returns the repository URL (oci://host/path).
func (r *OCIRepository) URL() string { return "oci://" + r.base }

// OCIChart is a chart version in an OCI repository.
type OCIChart struct {
	// Name and Version are the chart's; Tag is the tag holding it.
	Name, Version, Tag string
	// Ref is host/path/name:tag.
	Ref string
	// Digest is the manifest digest, sha256:<hex>, once resolved or pulled.
	Digest string
	// Revision is <version>@<digest> (Flux's HelmChart revision of an OCI
	// chart), once pulled.
	Revision string
	// Verified describes the signature that was trusted, when
	// OCIPullOptions.Verify was set.
	Verified *oci.VerifyResult
}

// Resolve selects the version of chart name that constraint selects among
// the repository's tags, with Helm's rules for OCI charts: tags that are
// strict semantic versions ("_" read as "+"), sorted newest first, an
// exact match first, then the newest satisfying the constraint ("*",
// latest stable, when empty). The digest is resolved too.
func (r *OCIRepository) Resolve(ctx context.Context, name, constraint string) (OCIChart, error) {
	repo := r.base + "/" + name
	tags, err := r.client.List(ctx, repo, oci.ListOptions{})
	if err != nil {
		return OCIChart{}, err
	}
	vs := make([]*semver.Version, 0, len(tags))
	for _, t := range tags {
		if v, err := semver.StrictNewVersion(strings.ReplaceAll(t, "_", "+")); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Sort(sort.Reverse(semver.Collection(vs)))
	if len(vs) == 0 {
		return OCIChart{}, fmt.Errorf("chart %q: %w: no tag is a version", name, ErrVersionNotFound)
	}
	k, err := selectVersion(len(vs), func(k int) string { return vs[k].String() }, constraint)
	if err != nil {
		return OCIChart{}, fmt.Errorf("chart %q: %w", name, err)
	}
	c := OCIChart{Name: name, Version: vs[k].String(), Tag: strings.ReplaceAll(vs[k].String(), "+", "_")}
	c.Ref = repo + ":" + c.Tag
	if c.Digest, err = r.client.Resolve(ctx, c.Ref); err != nil {
		return OCIChart{}, err
	}
	return c, nil
}

// OCIPullOptions are the per-call knobs of Pull. The zero value pulls
// without verification, bounded by DefaultMaxChartBytes.
type OCIPullOptions struct {
	// Verify, when set, requires a signature trusted as it says (cosign
	// key or keyless) before the chart layer is downloaded.
	Verify *oci.VerifyOptions
	// MaxBytes bounds the chart layer (default DefaultMaxChartBytes).
	MaxBytes int64
}

// Pull downloads the chart package of c (from Resolve) to the file dst,
// atomically, by the digest Resolve found (so a tag moved in between does
// not change what is pulled). Without a trusted signature, when o.Verify
// is set, nothing is downloaded: the error matches oci.ErrNoSignature or
// oci.ErrUntrusted.
func (r *OCIRepository) Pull(ctx context.Context, c OCIChart, dst string, o OCIPullOptions) (*OCIChart, error) {
	if c.Digest == "" {
		return nil, fmt.Errorf("chart %q: not resolved", c.Name)
	}
	ref := r.base + "/" + c.Name + "@" + c.Digest
	if o.Verify != nil {
		res, err := r.client.Verify(ctx, ref, *o.Verify)
		if err != nil {
			return nil, fmt.Errorf("chart %s %s: %w", c.Name, c.Version, err)
		}
		c.Verified = res
	}
	max := o.MaxBytes
	if max <= 0 {
		max = DefaultMaxChartBytes
	}
	md, err := r.client.Pull(ctx, ref, dst, oci.PullOptions{LayerMediaType: OCIChartMediaType, Copy: true, MaxLayerSize: max})
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", c.Name, c.Version, err)
	}
	c.Digest = md.Digest
	c.Revision = c.Version + "@" + md.Digest
	return &c, nil
}
