package helmtest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/provenance"
	repov1 "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"

	"github.com/gitopskit/kit/helmutil/helmtest"
)

// The synthetic index is byte for byte what Helm's own writer makes of the
// same entries, and Helm loads it.
func TestWriteLargeIndexIsHelmsLayout(t *testing.T) {
	var b bytes.Buffer
	st, err := helmtest.WriteLargeIndex(&b, helmtest.LargeIndexOptions{Charts: 5, VersionsPerChart: 40, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if st.Charts != 5 || st.Versions != 200 || st.Bytes != int64(b.Len()) {
		t.Fatalf("stats %+v, %d bytes", st, b.Len())
	}
	p := filepath.Join(t.TempDir(), "index.yaml")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := repov1.LoadIndexFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, vs := range idx.Entries {
		n += len(vs)
	}
	if len(idx.Entries) != 5 || n != 200 {
		t.Fatalf("helm loaded %d charts, %d versions", len(idx.Entries), n)
	}
	again, err := yaml.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b.Bytes()) {
		t.Fatalf("layout differs from Helm's writer:\n%s\n---\n%s", head(b.String()), head(string(again)))
	}
	var b2 bytes.Buffer
	if _, err := helmtest.WriteLargeIndex(&b2, helmtest.LargeIndexOptions{Charts: 5, VersionsPerChart: 40, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Fatal("same options wrote different bytes")
	}
	var sized bytes.Buffer
	st, err = helmtest.WriteLargeIndex(&sized, helmtest.LargeIndexOptions{Bytes: 1 << 20, VersionsPerChart: 10})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes < 1<<20 || st.Bytes > 1<<20+64<<10 {
		t.Fatalf("asked for 1 MiB, wrote %d bytes", st.Bytes)
	}
}

func head(s string) string {
	if len(s) > 2000 {
		return s[:2000]
	}
	return s
}

func TestServerServesSignedChartsOverTLSWithBasicAuth(t *testing.T) {
	src := helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.2.3", Files: map[string]string{"crds/crd.yaml": "kind: CustomResourceDefinition\n"}})
	signer := helmtest.NewSigner(t, "Chart Signer", "signer@example.com")
	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithTLS(), helmtest.WithBasicAuth("user", "pass"))
	tgz := srv.AddSignedChart(t, src, signer)
	if filepath.Base(tgz) != "app-1.2.3.tgz" {
		t.Fatalf("package %s", tgz)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}}}
	get := func(path string, auth bool) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+path, nil)
		if auth {
			req.SetBasicAuth("user", "pass")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/index.yaml", false); code != http.StatusUnauthorized {
		t.Fatalf("without credentials: %d", code)
	}
	code, body := get("/index.yaml", true)
	if code != http.StatusOK {
		t.Fatalf("index: %d", code)
	}
	var idx repov1.IndexFile
	if err := yaml.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	cv := idx.Entries["app"]
	if len(cv) != 1 || cv[0].Version != "1.2.3" || cv[0].URLs[0] != "app-1.2.3.tgz" {
		t.Fatalf("index entries %+v", idx.Entries)
	}
	_, data := get("/app-1.2.3.tgz", true)
	_, prov := get("/app-1.2.3.tgz.prov", true)
	ring := filepath.Join(t.TempDir(), "ring.asc")
	if err := os.WriteFile(ring, signer.Keyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	sig, err := provenance.NewFromKeyring(ring, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sig.Verify(data, prov, "app-1.2.3.tgz"); err != nil {
		t.Fatalf("helm does not verify the provenance: %v", err)
	}
	if len(srv.Requests()) != 4 || srv.Requests()[1].Header.Get("Authorization") == "" {
		t.Fatalf("requests %+v", srv.Requests())
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Templates) != 1 || len(ch.Files) != 1 {
		t.Fatalf("chart templates %d files %d", len(ch.Templates), len(ch.Files))
	}
}

func TestPushChartAsHelmDoes(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithBasicAuth("u", "p"))
	src := helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0+meta"})
	tgz := helmtest.PackageChart(t, src, t.TempDir())
	ref, digest := helmtest.PushChart(t, reg, tgz, "charts", helmtest.PushOptions{Username: "u", Password: "p"})
	if ref != reg.Repo("charts/app")+":1.0.0_meta" || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("ref %s digest %s", ref, digest)
	}
	c, err := oci.NewClient(append(reg.ClientOptions(), oci.WithBasicAuth("u", "p"))...)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "chart.tgz")
	md, err := c.Pull(context.Background(), ref, dst, oci.PullOptions{LayerMediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Copy: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(tgz)
	got, _ := os.ReadFile(dst)
	if md.Digest != digest || !bytes.Equal(want, got) {
		t.Fatalf("pulled %s, %d bytes; want %s, %d bytes", md.Digest, len(got), digest, len(want))
	}
}
