package ocitest_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

// A registry from Start serves without a test: images pushed to it are
// listed and resolved by the oci client; Close stops it (a request after
// it fails) and a second Close does nothing.
func TestStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, err := ocitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			reg.Close()
		}
	}()
	var digests []string
	for _, tag := range []string{"1.0.0", "1.1.0"} {
		d, err := reg.PushImage(ctx, "demo/app", tag)
		if err != nil {
			t.Fatalf("PushImage %s: %v", tag, err)
		}
		digests = append(digests, d)
	}
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := c.List(ctx, reg.Repo("demo/app"), oci.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"1.0.0", "1.1.0"}) {
		t.Errorf("tags = %q, want 1.0.0 and 1.1.0", tags)
	}
	got, err := c.Resolve(ctx, reg.Repo("demo/app")+":1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if got != digests[1] {
		t.Errorf("1.1.0 resolves to %s, PushImage returned %s", got, digests[1])
	}

	url := reg.URL() + "/v2/"
	reg.Close()
	closed = true
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("GET %s after Close answered %s", url, resp.Status)
	}
	reg.Close() // again: nothing happens
}

// A registry from New is closed when its test ends.
func TestNewClosesAtCleanup(t *testing.T) {
	t.Parallel()
	var url string
	t.Run("registry", func(t *testing.T) {
		reg := ocitest.New(t)
		url = reg.URL() + "/v2/"
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s while the test runs: %v", url, err)
		}
		resp.Body.Close()
	})
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("GET %s after the test answered %s", url, resp.Status)
	}
}

// PushImage pushes a container image (OCI manifest and image config,
// linux/amd64, one tar layer holding the tag), the same for the same tag,
// through the registry's TLS and authentication.
func TestPushImage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("user", "pass"))
	d1, err := reg.PushImage(ctx, "app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := reg.PushImage(ctx, "app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := reg.PushImage(ctx, "app", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if again != d1 {
		t.Errorf("v1 pushed twice: %s then %s, want one digest", d1, again)
	}
	if d2 == d1 {
		t.Errorf("v1 and v2 have one digest %s", d1)
	}

	ref, err := name.ParseReference(reg.Repo("app") + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref, remote.WithTransport(reg.HTTPClient().Transport),
		remote.WithAuth(&authn.Basic{Username: "user", Password: "pass"}), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != d1 || desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("v1 is %s %s, want %s %s", desc.MediaType, desc.Digest, types.OCIManifestSchema1, d1)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCIUncompressedLayer {
		t.Errorf("manifest: config %s, layers %+v", m.Config.MediaType, m.Layers)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("config: %s/%s, diff IDs %v", cfg.OS, cfg.Architecture, cfg.RootFS.DiffIDs)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	content, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != ocitest.ImageTagFile || string(content) != "v1\n" {
		t.Errorf("layer holds %s %q, want %s \"v1\\n\"", h.Name, content, ocitest.ImageTagFile)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("the layer has more than one file (err=%v)", err)
	}
}

// PushImage fails with an error, never a panic or a test failure: an
// invalid tag or repository name, a cancelled context, a closed
// registry; under token authentication it logs in as the clients do.
func TestPushImageErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := ocitest.New(t)
	if _, err := reg.PushImage(ctx, "app", "not a tag"); err == nil {
		t.Error("PushImage with tag \"not a tag\" succeeded")
	}
	if _, err := reg.PushImage(ctx, "App/UPPER", "v1"); err == nil {
		t.Error("PushImage to repository App/UPPER succeeded")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := reg.PushImage(cancelled, "app", "v1"); !errors.Is(err, context.Canceled) {
		t.Errorf("PushImage with a cancelled context: %v, want context.Canceled", err)
	}

	authed := ocitest.New(t, ocitest.WithTokenAuth("user", "pass"))
	if _, err := authed.PushImage(ctx, "app", "v1"); err != nil {
		t.Errorf("PushImage under token auth: %v", err)
	}

	closed, err := ocitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if _, err := closed.PushImage(ctx, "app", "v1"); err == nil {
		t.Error("PushImage to a closed registry succeeded")
	}
}
