package oci_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

// seedTags pushes one small artifact, tags it with every tag and returns
// its digest reference.
func seedTags(t *testing.T, c *oci.Client, repo string, tags ...string) string {
	t.Helper()
	digest, err := c.Push(ctx(t), repo+":"+tags[0], writeTree(t, map[string]string{"a": "1"}), oci.PushOptions{Created: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	d := repo + "@" + digest
	for _, tag := range tags[1:] {
		if err := c.Tag(ctx(t), d, tag); err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
	}
	return d
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	repo := reg.Repo("list")
	seedTags(t, c, repo, "1.0.0", "1.1.0", "1.2.0-rc.1", "v2.0.0", "latest", "main-abc123",
		"sha256-"+strings.Repeat("a", 64)+".sig", "sha256-"+strings.Repeat("b", 64)+".att",
		"sha256-"+strings.Repeat("c", 64), "foo.sbom")
	tests := []struct {
		name string
		o    oci.ListOptions
		want []string
	}{
		{"all, support tags left out", oci.ListOptions{}, []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "latest", "main-abc123", "v2.0.0"}},
		{"semver range", oci.ListOptions{SemVer: ">=1.0.0 <2.0.0"}, []string{"1.1.0", "1.0.0"}},
		{"semver with prereleases", oci.ListOptions{SemVer: ">=1.0.0-0 <2.0.0"}, []string{"1.2.0-rc.1", "1.1.0", "1.0.0"}},
		{"semver star", oci.ListOptions{SemVer: "*"}, []string{"v2.0.0", "1.1.0", "1.0.0"}},
		{"regexp", oci.ListOptions{TagRegexp: `^main-`}, []string{"main-abc123"}},
		{"regexp and semver", oci.ListOptions{TagRegexp: `^v`, SemVer: ">=1.0.0"}, []string{"v2.0.0"}},
		{"exclusion list", oci.ListOptions{Exclude: []string{`^latest$`, `^main-`}}, []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "v2.0.0"}},
		{"exclusion list cannot bring support tags back", oci.ListOptions{Exclude: []string{`^$`}}, []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "latest", "main-abc123", "v2.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.List(ctx(t), repo, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			diff(t, tt.want, got)
		})
	}
	if _, err := c.List(ctx(t), repo, oci.ListOptions{SemVer: "not a range"}); err == nil {
		t.Fatal("bad range accepted")
	}
	if _, err := c.List(ctx(t), repo, oci.ListOptions{TagRegexp: "("}); err == nil {
		t.Fatal("bad regexp accepted")
	}
	if _, err := c.List(ctx(t), repo, oci.ListOptions{Exclude: []string{"["}}); err == nil || !strings.Contains(err.Error(), "exclude regexp") {
		t.Fatalf("bad exclusion regexp: %v", err)
	}
	if _, err := c.List(ctx(t), repo, oci.ListOptions{Limit: 3}); !errors.Is(err, oci.ErrTooLarge) {
		t.Fatalf("want ErrTooLarge over the limit, got %v", err)
	}
}

func TestPullSemverSelection(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	repo := reg.Repo("semver")
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0"} {
		if _, err := c.Push(ctx(t), repo+":"+v, writeTree(t, map[string]string{"version": v}), oci.PushOptions{Created: fixedTime}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		o       oci.PullOptions
		wantTag string
	}{
		{oci.PullOptions{SemVer: "1.x"}, "1.1.0"},
		{oci.PullOptions{SemVer: ">=1.0.0-0 <2.0.0"}, "1.2.0-rc.1"},
		{oci.PullOptions{SemVer: ">=1.0.0"}, "2.0.0"},
		{oci.PullOptions{TagRegexp: `^1\.0`}, "1.0.0"},
	}
	for _, tt := range tests {
		dst := filepath.Join(t.TempDir(), "out")
		md, err := c.Pull(ctx(t), "oci://"+repo, dst, tt.o)
		if err != nil {
			t.Fatalf("%+v: %v", tt.o, err)
		}
		diff(t, tt.wantTag, md.Tag)
		diff(t, map[string]string{"version": tt.wantTag}, readTree(t, dst))
		if !strings.HasPrefix(md.Revision, tt.wantTag+"@sha256:") {
			t.Fatalf("revision %q", md.Revision)
		}
	}
	_, err := c.Pull(ctx(t), repo, filepath.Join(t.TempDir(), "out"), oci.PullOptions{SemVer: ">=3.0.0"})
	if !errors.Is(err, oci.ErrNoMatchingTag) {
		t.Fatalf("want ErrNoMatchingTag, got %v", err)
	}
}

func TestTagResolveDelete(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	repo := reg.Repo("del")
	digest, err := c.Push(ctx(t), repo+":v1", writeTree(t, appFiles), oci.PushOptions{Created: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	d := repo + "@" + digest
	if err := c.Tag(ctx(t), repo+":v1", "stable"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{repo + ":v1", repo + ":stable", d} {
		got, err := c.Resolve(ctx(t), r)
		if err != nil {
			t.Fatal(err)
		}
		diff(t, digest, got)
	}
	if err := c.Delete(ctx(t), repo+":stable"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(ctx(t), repo+":stable"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("want ErrNotFound after delete, got %v", err)
	}
	if err := c.Delete(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(ctx(t), d, filepath.Join(t.TempDir(), "x"), oci.PullOptions{}); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("want ErrNotFound pulling a deleted digest, got %v", err)
	}
	if err := c.Tag(ctx(t), repo+":nope", "x"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("tag of a missing ref: want ErrNotFound, got %v", err)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	ref := reg.Repo("diff") + ":v1"
	if _, err := c.Push(ctx(t), ref, writeTree(t, appFiles), oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Diff(ctx(t), ref, writeTree(t, appFiles), oci.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal || res.LocalDigest != res.RemoteDigest {
		t.Fatalf("same tree: %+v", res)
	}

	changed := map[string]string{
		"kustomization.yaml": "resources: [deploy.yaml]\n",
		"deploy.yaml":        "kind: StatefulSet\n",
		"new.yaml":           "b: 2\n",
	}
	res, err = c.Diff(ctx(t), ref, writeTree(t, changed), oci.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, &oci.DiffResult{
		Equal: false, LocalDigest: res.LocalDigest, RemoteDigest: res.RemoteDigest,
		Added: []string{"new.yaml"}, Removed: []string{"nested/dir/file.yaml"}, Modified: []string{"deploy.yaml"},
	}, res)

	// Same files archived by another tool: different digests, equal content.
	other := reg.Repo("diff") + ":other"
	pushHandMade(t, reg, other, makeTar(t, true,
		tarEntry{name: "./kustomization.yaml", body: appFiles["kustomization.yaml"]},
		tarEntry{name: "./deploy.yaml", body: appFiles["deploy.yaml"]},
		tarEntry{name: "./nested/dir/file.yaml", body: appFiles["nested/dir/file.yaml"]},
	), oci.ContentMediaType, nil)
	res, err = c.Diff(ctx(t), other, writeTree(t, appFiles), oci.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal || res.LocalDigest == res.RemoteDigest {
		t.Fatalf("same files, other archiver: %+v", res)
	}
}
