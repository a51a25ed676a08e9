package source_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

// A HelmChart packages a chart directory of an OCIRepository's artifact and
// of a Bucket's artifact as it does a GitRepository's, values files from
// the artifact included.
func TestHelmChartFromOCIRepositoryAndBucket(t *testing.T) {
	t.Parallel()
	h, _ := newHelmHarness(t, helmLimits{})
	tree := chartTree(t, "0.3.0")

	reg := ocitest.New(t)
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(context.Background(), reg.Repo("manifests")+":v1", tree, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	h.create(ociRepository("manifests", reg, "manifests", func(s *sourcev1.OCIRepositorySpec) {
		s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
	}))

	s3 := s3Server(t)
	files := map[string]string{}
	if err := filepath.Walk(tree, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		files[filepath.ToSlash(rel)] = string(readBytes(t, p))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s3.PutObjects(t, "configs", files)
	h.s3Secret("s3", s3AccessKey, s3SecretKey, s3SessionToken)
	h.create(bucketObject("configs", s3))

	for _, kind := range []string{sourcev1.OCIRepositoryKind, sourcev1.BucketKind} {
		src := "manifests"
		if kind == sourcev1.BucketKind {
			src = "configs"
		}
		obj := helmChart(strings.ToLower(kind), "charts/app", kind, src, func(s *sourcev1.HelmChartSpec) {
			s.ValuesFiles = []string{"env/prod.yaml"}
		})
		h.create(obj)
		h.ready(obj)
		name, version, values := loadChartArtifact(t, obj)
		if name != "app" || !strings.HasPrefix(version, "0.3.0+values.") || !strings.Contains(values, "replicas: 5") {
			t.Errorf("%s: packaged %s-%s with values %q", kind, name, version, values)
		}
		if obj.Status.ObservedSourceArtifactRevision == "" {
			t.Errorf("%s: no observedSourceArtifactRevision", kind)
		}
	}
}
