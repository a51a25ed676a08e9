package oci_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/untar"
	"github.com/gitopskit/kit/oci"
)

// Push a directory as a Flux artifact, pull the highest 1.x, and ask
// whether a folder is what is published (README: Usage), against an
// in-process registry speaking the distribution API.
func Example() {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	deploy, _ := os.MkdirTemp("", "oci-example-")
	defer os.RemoveAll(deploy)
	_ = os.WriteFile(filepath.Join(deploy, "app.yaml"), []byte("kind: ConfigMap\n"), 0o644)
	_ = os.WriteFile(filepath.Join(deploy, "NOTES.md"), []byte("left out\n"), 0o644)

	c, err := oci.NewClient(oci.WithInsecure(true)) // loopback registry over plain HTTP
	if err != nil {
		fmt.Println(err)
		return
	}
	// Reproducibly: same content + same Created = same digest.
	digest, err := c.Push(ctx, host+"/org/app-config:v1.2.0", deploy, oci.PushOptions{
		Source:   "https://github.com/org/app",
		Revision: "main@sha1:" + strings.Repeat("0", 40),
		Created:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Archive:  archive.Options{Ignore: []string{"*.md"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	dst := filepath.Join(deploy, "pulled")
	md, err := c.Pull(ctx, "oci://"+host+"/org/app-config", dst, oci.PullOptions{SemVer: "1.x"})
	switch {
	case errors.Is(err, untar.ErrUnsafePath): // hostile layer; dst untouched
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println(md.Digest == digest, md.Revision == "v1.2.0@"+digest, md.SourceRevision)

	d, err := c.Diff(ctx, host+"/org/app-config:v1.2.0", dst, oci.DiffOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Equal)
	// Output:
	// true true main@sha1:0000000000000000000000000000000000000000
	// true
}

func ExampleTagPolicy() {
	p, err := oci.NewTagPolicy(oci.TagPolicySpec{
		FilterPattern: `^main-(?P<ts>\d+)-[a-f0-9]+$`, Extract: "$ts",
		Numerical: oci.Ascending,
	})
	if err != nil {
		panic(err)
	}
	latest, err := p.Latest([]string{"main-1764600000-9c0ffee", "main-1764690000-3f2a1b0", "v1.2.0", "latest"})
	if err != nil {
		panic(err)
	}
	fmt.Println(latest.Tag, latest.Value)
	// Output: main-1764690000-3f2a1b0 1764690000
}
