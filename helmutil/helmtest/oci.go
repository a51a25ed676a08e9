package helmtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"

	"github.com/gitopskit/kit/oci/ocitest"
)

// PushOptions are the knobs of PushChart; the zero value pushes without
// credentials nor provenance.
type PushOptions struct {
	// Username and Password log in to a registry started with
	// ocitest.WithBasicAuth.
	Username, Password string
	// Provenance, when set, is pushed as the provenance layer (as `helm
	// push` does when a .prov file sits next to the package).
	Provenance []byte
}

// PushChart pushes the chart package tgz to reg under repo (a path such as
// "charts") with Helm's registry client, as `helm push tgz
// oci://<host>/<repo>` does: the chart lands at <host>/<repo>/<name> tagged
// with its version ("+" written "_"). It returns that reference
// (host/repo/name:tag) and the manifest digest (sha256:<hex>).
func PushChart(t testing.TB, reg *ocitest.Registry, tgz, repo string, o PushOptions) (ref, digest string) {
	t.Helper()
	data, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadArchive(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("helmtest: push %s: %v", tgz, err)
	}
	opts := []registry.ClientOption{
		registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "registry.json")),
		registry.ClientOptHTTPClient(reg.HTTPClient()),
	}
	if reg.CertPool() == nil {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	if o.Username != "" || o.Password != "" {
		opts = append(opts, registry.ClientOptBasicAuth(o.Username, o.Password))
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		t.Fatalf("helmtest: registry client: %v", err)
	}
	ref = reg.Repo(strings.Trim(repo, "/")) + "/" + ch.Name() + ":" + strings.ReplaceAll(ch.Metadata.Version, "+", "_")
	var popts []registry.PushOption
	if o.Provenance != nil {
		popts = append(popts, registry.PushOptProvData(o.Provenance))
	}
	popts = append(popts, registry.PushOptStrictMode(false))
	res, err := c.Push(data, ref, popts...)
	if err != nil {
		t.Fatalf("helmtest: push %s: %v", ref, err)
	}
	return ref, res.Manifest.Digest
}
