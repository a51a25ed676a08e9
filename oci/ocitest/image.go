package ocitest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageTagFile is the one file of the layer of an image PushImage pushes:
// it holds the tag, and a newline.
const ImageTagFile = "tag"

// PushImage pushes a small container image as repo:tag (repo is a
// repository name on this registry, as Repo takes it) and returns its
// manifest digest ("sha256:<hex>"). The image is what an image scanner or
// a container runtime expects: an OCI image manifest, an image config for
// linux/amd64, and one uncompressed tar layer holding ImageTagFile. It is
// built the same way every time, so the same tag pushed again has the same
// digest (and another tag another digest).
//
// It takes a context rather than a testing.TB, so that a program using
// Start can push images too; the error says what failed.
func (r *Registry) PushImage(ctx context.Context, repo, tag string) (string, error) {
	ref, err := name.NewTag(r.Repo(repo)+":"+tag, append(r.nameOptions(), name.StrictValidation)...)
	if err != nil {
		return "", fmt.Errorf("push image %s:%s: %w", repo, tag, err)
	}
	img, err := tagImage(tag)
	if err != nil {
		return "", fmt.Errorf("push image %s: %w", ref, err)
	}
	if err := remote.Write(ref, img, append(r.remoteOptions(), remote.WithContext(ctx))...); err != nil {
		return "", fmt.Errorf("push image %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("push image %s: %w", ref, err)
	}
	return d.String(), nil
}

// tagImage builds the image PushImage pushes for tag.
func tagImage(tag string) (v1.Image, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	content := []byte(tag + "\n")
	if err := tw.WriteHeader(&tar.Header{
		Name: ImageTagFile, Mode: 0o644, Size: int64(len(content)),
		ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatUSTAR,
	}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		RootFS:       v1.RootFS{Type: "layers"},
		Config:       v1.Config{Labels: map[string]string{"org.opencontainers.image.version": tag}},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer:   static.NewLayer(layer.Bytes(), types.OCIUncompressedLayer),
		History: v1.History{CreatedBy: "ocitest.PushImage"},
	})
}
