package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitopskit/kit/artifact/archive"
)

// Flux's OCI artifact format.
const (
	// ConfigMediaType is the media type of the config blob of a Flux artifact.
	ConfigMediaType = "application/vnd.cncf.flux.config.v1+json"
	// ContentMediaType is the media type of the tar.gz layer of a Flux artifact.
	ContentMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
	// AnnotationSource is the manifest annotation holding the source URL.
	AnnotationSource = "org.opencontainers.image.source"
	// AnnotationRevision is the manifest annotation holding the source revision.
	AnnotationRevision = "org.opencontainers.image.revision"
	// AnnotationCreated is the manifest annotation holding the creation time
	// (RFC 3339).
	AnnotationCreated = "org.opencontainers.image.created"
)

// emptyConfig is the config blob of the artifacts pushed here; Flux never
// reads it.
var emptyConfig = []byte("{}")

// PushOptions are the per-call knobs of Push and PushFile. The zero value
// pushes with the creation time set to now and no source nor revision.
type PushOptions struct {
	// Source is the org.opencontainers.image.source annotation (e.g. the
	// git URL the content comes from).
	Source string
	// Revision is the org.opencontainers.image.revision annotation (e.g.
	// "main@sha1:<commit>").
	Revision string
	// Created is the org.opencontainers.image.created annotation; zero means
	// now. Set it (e.g. to the commit time) so identical content pushed
	// twice has the same manifest digest.
	Created time.Time
	// Annotations are added to the manifest; Source, Revision and Created
	// take precedence over the same keys here.
	Annotations map[string]string
	// Tags are further tags pointed at the pushed manifest.
	Tags []string
	// Archive tunes the reproducible archive of the directory (ignore rules).
	Archive archive.Options
	// LayerMediaType, for PushFile only, pushes the file as is under this
	// media type instead of archiving it into a Flux tar.gz layer.
	LayerMediaType string
}

// Push archives dir reproducibly and pushes it to ref (host/repo:tag) as a
// Flux artifact. It returns the manifest digest, sha256:<hex>, the form
// Resolve returns and Pull's Metadata.Digest holds; host/repo@<digest>
// names what was pushed whatever the tag becomes.
//
// The archive is written to a temporary file while its digest is computed,
// then uploaded (skipped when the registry already has the blob), followed
// by the config blob and the manifest. Memory use does not depend on the
// size of dir.
func (c *Client) Push(ctx context.Context, ref, dir string, o PushOptions) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("push %s: not a directory (use PushFile)", dir)
	}
	return c.push(ctx, ref, dir, o)
}

// PushFile pushes a single file to ref and returns the manifest digest, as
// Push does. By default the file is archived
// alone, under its base name, into a Flux tar.gz layer; with
// o.LayerMediaType set it is pushed as is under that media type.
func (c *Client) PushFile(ctx context.Context, ref, file string, o PushOptions) (string, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("push %s: not a regular file", file)
	}
	if o.LayerMediaType != "" {
		l, err := layerFromFile(file, types.MediaType(o.LayerMediaType))
		if err != nil {
			return "", fmt.Errorf("push: %w", err)
		}
		return c.pushLayer(ctx, ref, l, o)
	}
	// Archive the file alone: link (or copy) it into an empty directory so
	// the archive gets the same reproducible headers as a directory's.
	tmp, err := os.MkdirTemp("", "gitopskit-oci-file-")
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, filepath.Base(file))
	if err := os.Link(file, dst); err != nil {
		if err := copyFile(file, dst); err != nil {
			return "", fmt.Errorf("push: %w", err)
		}
	}
	o.Archive.NoDefaultIgnore, o.Archive.NoIgnoreFile, o.Archive.Ignore = true, true, nil
	return c.push(ctx, ref, tmp, o)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (c *Client) push(ctx context.Context, ref, dir string, o PushOptions) (string, error) {
	f, err := os.CreateTemp("", "gitopskit-oci-*.tar.gz")
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	res, err := archive.Build(ctx, f, dir, o.Archive)
	if err != nil {
		return "", fmt.Errorf("push: archive %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	if res.Digest.Algorithm() != "sha256" {
		return "", fmt.Errorf("push: layer digest must be sha256, got %s", res.Digest.Algorithm())
	}
	h, err := v1.NewHash(res.Digest.String())
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	l := &fileLayer{path: f.Name(), digest: h, size: res.Size, mediaType: ContentMediaType}
	return c.pushLayer(ctx, ref, l, o)
}

// pushLayer uploads l and the config, then the manifest.
func (c *Client) pushLayer(ctx context.Context, ref string, l *fileLayer, o PushOptions) (string, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, err := c.parseRef(ref)
	if err != nil {
		return "", err
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return "", fmt.Errorf("%w: push needs a tag, not a digest", ErrInvalidReference)
	}
	extra := make([]name.Tag, 0, len(o.Tags))
	for _, t := range o.Tags {
		nt, err := name.NewTag(tag.Context().String()+":"+t, c.nameOpts...)
		if err != nil {
			return "", fmt.Errorf("%w: tag %q", ErrInvalidReference, t)
		}
		extra = append(extra, nt)
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("ref", tag.String())

	cfg := static.NewLayer(emptyConfig, ConfigMediaType)
	cfgDigest, _ := cfg.Digest()
	if err := c.pusher.Upload(ctx, tag.Context(), l); err != nil {
		return "", c.wrap("push layer", err)
	}
	if err := c.pusher.Upload(ctx, tag.Context(), cfg); err != nil {
		return "", c.wrap("push config", err)
	}
	created := o.Created
	if created.IsZero() {
		created = time.Now()
	}
	ann := make(map[string]string, len(o.Annotations)+3)
	for k, v := range o.Annotations {
		ann[k] = v
	}
	ann[AnnotationCreated] = created.UTC().Format(time.RFC3339)
	if o.Source != "" {
		ann[AnnotationSource] = o.Source
	}
	if o.Revision != "" {
		ann[AnnotationRevision] = o.Revision
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{
			MediaType: ConfigMediaType,
			Size:      int64(len(emptyConfig)),
			Digest:    cfgDigest,
		},
		Layers: []v1.Descriptor{{
			MediaType: l.mediaType,
			Size:      l.size,
			Digest:    l.digest,
		}},
		Annotations: ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	mf := rawManifest{raw: raw, mediaType: types.OCIManifestSchema1}
	for _, t := range append([]name.Tag{tag}, extra...) {
		if err := c.pusher.Put(ctx, t, mf); err != nil {
			return "", c.wrap("push manifest", err)
		}
	}
	sum := sha256.Sum256(raw)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	log.V(1).Info("pushed artifact", "digest", digest, "size", l.size)
	return digest, nil
}

// rawManifest is a manifest pushed byte for byte.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// fileLayer is a blob read from a file whose digest is known.
type fileLayer struct {
	path      string
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
}

func layerFromFile(path string, mt types.MediaType) (*fileLayer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	return &fileLayer{path: path, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, size: n, mediaType: mt}, nil
}

var errNoDiffID = errors.New("uncompressed content of a pushed blob is not available")

func (l *fileLayer) Digest() (v1.Hash, error)           { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)           { return v1.Hash{}, errNoDiffID }
func (l *fileLayer) Compressed() (io.ReadCloser, error) { return openReplayable(l.path) }

// replayableFile is an upload body the transport can reopen to retry.
type replayableFile struct {
	*os.File
	path string
}

func openReplayable(path string) (*replayableFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &replayableFile{File: f, path: path}, nil
}

// Reopen returns the file read again from its start.
func (f *replayableFile) Reopen() (io.ReadCloser, error)  { return openReplayable(f.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return nil, errNoDiffID }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return l.mediaType, nil }
