package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitopskit/kit/artifact/untar"
)

// PullOptions are the per-call knobs of Pull. The zero value pulls the Flux
// content layer and extracts it with the default untar limits.
type PullOptions struct {
	// LayerMediaType selects the layer; empty means ContentMediaType, or the
	// first layer when the manifest has no layer of that type.
	LayerMediaType string
	// Copy writes the layer as is to dst (a file path, written atomically)
	// instead of extracting it into the directory dst.
	Copy bool
	// Untar bounds the extraction (see untar.Options for the defaults).
	Untar untar.Options
	// MaxLayerSize, when positive, bounds this call's layer instead of the
	// client's WithMaxLayerSize (e.g. a Helm chart's own size limit).
	MaxLayerSize int64
	// SemVer, when ref names a repository without tag or digest, selects the
	// highest tag satisfying this Masterminds/semver range (e.g. ">=1.0.0 <2.0.0",
	// "1.x", "*"). Prereleases are considered only when the range names one
	// (e.g. ">=1.0.0-0").
	SemVer string
	// TagRegexp, when ref has no tag nor digest, keeps only the tags it
	// matches before SemVer applies. With TagRegexp alone, the highest tag
	// in lexical order is taken.
	TagRegexp string
	// Verify, when set, checks the manifest's signatures before any layer is
	// downloaded; an unsigned or untrusted artifact is an error.
	Verify *VerifyOptions
}

// Metadata describes a pulled artifact.
type Metadata struct {
	// URL is the reference pulled, as oci://host/repo:tag or oci://host/repo@sha256:<hex>.
	URL string `json:"url"`
	// Tag is the tag pulled or selected; empty when pulled by digest.
	Tag string `json:"tag,omitempty"`
	// Digest is the manifest digest, sha256:<hex>.
	Digest string `json:"digest"`
	// Revision is Flux's revision of an OCIRepository: <tag>@sha256:<hex>,
	// or sha256:<hex> when pulled by digest.
	Revision string `json:"revision"`
	// Source is the org.opencontainers.image.source annotation.
	Source string `json:"source,omitempty"`
	// SourceRevision is the org.opencontainers.image.revision annotation.
	SourceRevision string `json:"sourceRevision,omitempty"`
	// Created is the org.opencontainers.image.created annotation.
	Created string `json:"created,omitempty"`
	// Annotations are all the manifest annotations.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Layer describes the layer pulled.
	Layer v1.Descriptor `json:"layer"`
}

// Pull downloads the artifact at ref into dst and returns its metadata.
//
// ref is host/repo:tag, host/repo@sha256:<hex>, or host/repo with
// o.SemVer or o.TagRegexp selecting a tag. The manifest's digest is
// computed and checked against the reference (when by digest) and the
// registry's header; the layer is streamed into the bounded extraction of
// artifact/untar while its digest and size are checked, and the extraction
// is renamed into dst only when the layer was complete and matched its
// digest: a short, long, tampered or hostile layer leaves dst untouched.
// With o.Copy the layer is written to the file dst instead, also atomically.
func (c *Client) Pull(ctx context.Context, ref, dst string, o PullOptions) (*Metadata, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, md, m, err := c.fetchManifest(ctx, ref, o.SemVer, o.TagRegexp)
	if err != nil {
		return nil, err
	}
	if o.Verify != nil {
		if _, err := c.verify(ctx, r.Context().Digest(md.Digest), *o.Verify); err != nil {
			return nil, err
		}
	}
	layer, err := selectLayer(m, o.LayerMediaType)
	if err != nil {
		return nil, err
	}
	md.Layer = layer
	log := logr.FromContextOrDiscard(ctx).WithValues("ref", md.URL, "digest", md.Digest)
	limit := c.maxLayer
	if o.MaxLayerSize > 0 {
		limit = o.MaxLayerSize
	}
	rc, err := c.openBlobLimit(ctx, r.Context(), layer, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if o.Copy {
		if err := writeFileAtomic(ctx, dst, rc); err != nil {
			return nil, c.wrap("pull layer", err)
		}
	} else {
		if _, err := untar.Extract(ctx, rc, dst, o.Untar); err != nil {
			return nil, c.wrap("pull layer", err)
		}
		// untar reads its input to the end, so the digest was checked
		// before the rename; make sure of it.
		if !rc.(*verifyingReader).verified {
			_ = removeContents(dst)
			return nil, fmt.Errorf("pull layer: %w: layer was not read to its end", ErrDigestMismatch)
		}
	}
	log.V(1).Info("pulled artifact", "layer", layer.Digest.String(), "size", layer.Size)
	return md, nil
}

// fetchManifest resolves ref (selecting a tag if needed), fetches and
// checks its manifest.
func (c *Client) fetchManifest(ctx context.Context, ref, semverRange, tagRegexp string) (name.Reference, *Metadata, *v1.Manifest, error) {
	var r name.Reference
	if !hasTagOrDigest(ref) {
		if semverRange == "" && tagRegexp == "" {
			var err error
			if r, err = c.parseRef(ref + ":latest"); err != nil {
				return nil, nil, nil, err
			}
		} else {
			repo, err := c.parseRepo(ref)
			if err != nil {
				return nil, nil, nil, err
			}
			tag, err := c.selectTag(ctx, repo, ListOptions{SemVer: semverRange, TagRegexp: tagRegexp})
			if err != nil {
				return nil, nil, nil, err
			}
			r = repo.Tag(tag)
		}
	} else {
		var err error
		if r, err = c.parseRef(ref); err != nil {
			return nil, nil, nil, err
		}
	}
	desc, err := c.puller.Get(ctx, r)
	if err != nil {
		return nil, nil, nil, c.wrap("get manifest "+r.String(), err)
	}
	if int64(len(desc.Manifest)) > c.maxManifest {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w: %d bytes", r, ErrTooLarge, len(desc.Manifest))
	}
	sum := sha256.Sum256(desc.Manifest)
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if d, ok := r.(name.Digest); ok && d.DigestStr() != got.String() {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w: got %s", r, ErrDigestMismatch, got)
	}
	if desc.Digest.Algorithm == "sha256" && desc.Digest != got {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w: registry says %s, content is %s", r, ErrDigestMismatch, desc.Digest, got)
	}
	switch desc.MediaType {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
	default:
		return nil, nil, nil, fmt.Errorf("manifest %s: %w: media type %q", r, ErrNotArtifact, desc.MediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w: %v", r, ErrNotArtifact, err)
	}
	md := &Metadata{
		Digest:         got.String(),
		Revision:       got.String(),
		Annotations:    m.Annotations,
		Source:         m.Annotations[AnnotationSource],
		SourceRevision: m.Annotations[AnnotationRevision],
		Created:        m.Annotations[AnnotationCreated],
	}
	switch rr := r.(type) {
	case name.Tag:
		md.Tag = rr.TagStr()
		md.Revision = md.Tag + "@" + md.Digest
		md.URL = "oci://" + rr.String()
	default:
		md.URL = "oci://" + r.Context().String() + "@" + md.Digest
	}
	return r, md, &m, nil
}

func selectLayer(m *v1.Manifest, mediaType string) (v1.Descriptor, error) {
	want := mediaType
	if want == "" {
		want = ContentMediaType
	}
	for _, l := range m.Layers {
		if string(l.MediaType) == want {
			return l, nil
		}
	}
	if mediaType == "" && len(m.Layers) > 0 {
		return m.Layers[0], nil
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %q", ErrNoLayer, want)
}

// openBlob streams the blob of d from repo, checking its size bound up front
// and its size and digest while it is read.
func (c *Client) openBlob(ctx context.Context, repo name.Repository, d v1.Descriptor) (io.ReadCloser, error) {
	return c.openBlobLimit(ctx, repo, d, c.maxLayer)
}

func (c *Client) openBlobLimit(ctx context.Context, repo name.Repository, d v1.Descriptor, limit int64) (io.ReadCloser, error) {
	if d.Digest.Algorithm != "sha256" || len(d.Digest.Hex) != 64 {
		return nil, fmt.Errorf("blob %s: %w: unsupported digest", d.Digest, ErrNotArtifact)
	}
	if d.Size < 0 || (limit > 0 && d.Size > limit) {
		return nil, fmt.Errorf("blob %s: %w: %d bytes, limit %d", d.Digest, ErrTooLarge, d.Size, limit)
	}
	l, err := c.puller.Layer(ctx, repo.Digest(d.Digest.String()))
	if err != nil {
		return nil, c.wrap("get blob "+d.Digest.String(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, c.wrap("get blob "+d.Digest.String(), err)
	}
	return &verifyingReader{rc: rc, h: sha256.New(), want: d.Digest.Hex, size: d.Size}, nil
}

// verifyingReader reads exactly size bytes and replaces io.EOF with an error
// when the content does not match its digest, so a consumer that fails on
// read errors (untar) never commits tampered content.
type verifyingReader struct {
	rc       io.ReadCloser
	h        hash.Hash
	want     string
	size     int64
	n        int64
	verified bool
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.n > v.size {
		return 0, fmt.Errorf("%w: blob larger than its descriptor's %d bytes", ErrDigestMismatch, v.size)
	}
	// Read at most one byte past the declared size, to detect a long blob.
	if rem := v.size - v.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := v.rc.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	if v.n > v.size {
		return 0, fmt.Errorf("%w: blob larger than its descriptor's %d bytes", ErrDigestMismatch, v.size)
	}
	if errors.Is(err, io.EOF) {
		if v.n != v.size {
			return n, fmt.Errorf("%w: blob has %d bytes, descriptor says %d", ErrDigestMismatch, v.n, v.size)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("%w: blob is sha256:%s, want sha256:%s", ErrDigestMismatch, got, v.want)
		}
		v.verified = true
		return n, io.EOF
	}
	if err != nil {
		return n, fmt.Errorf("%w: %w", ErrDigestMismatch, err)
	}
	return n, nil
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// writeFileAtomic copies r into a temporary file next to dst and renames it
// into place once r ended without error.
func writeFileAtomic(ctx context.Context, dst string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return err
	}
	ok = true
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func removeContents(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
