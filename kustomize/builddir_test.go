package kustomize

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Build accepts an absolute build folder inside the root, however the root
// is spelled, and refuses one outside it, by ".." or through a symlink.
func TestBuildAbsoluteDir(t *testing.T) {
	t.Parallel()
	outer, root := escapeTree(t)
	writeTree(t, root, map[string]string{
		"app/cm.yaml": cm("app"),
		"cm.yaml":     cm("top"),
		"out":         "symlink:../base",
	})
	link := filepath.Join(outer, "root-link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(outer, "alias")
	if err := os.Symlink("src", alias); err != nil {
		t.Fatal(err)
	}
	ok := []struct{ root, dir, want string }{
		{root, filepath.Join(root, "app"), "ConfigMap//app"},
		{root, filepath.Join(root, "app") + "/", "ConfigMap//app"},
		{root, filepath.Join(root, "x", "..", "app"), "ConfigMap//app"},
		{link, filepath.Join(link, "app"), "ConfigMap//app"},  // root and dir through the same link
		{link, filepath.Join(root, "app"), "ConfigMap//app"},  // root as a link, dir by its real path
		{root, filepath.Join(link, "app"), "ConfigMap//app"},  // root real, dir through a link
		{root, filepath.Join(alias, "app"), "ConfigMap//app"}, // another link to the root
		{root, root, "ConfigMap//top"},
	}
	for _, tc := range ok {
		var opts Options
		if tc.dir == root {
			opts.Ignore = []string{"app/"} // only the top-level ConfigMap
		}
		objs, err := Build(context.Background(), tc.root, tc.dir, opts)
		if err != nil {
			t.Errorf("root %s, dir %s: %v", tc.root, tc.dir, err)
			continue
		}
		if got := ids(objs); len(got) == 0 || got[0] != tc.want {
			t.Errorf("root %s, dir %s: got %v", tc.root, tc.dir, got)
		}
	}
	refused := []string{
		"/etc",
		filepath.Join(outer, "base"),
		filepath.Join(root, "..", "base"),
		filepath.Join(root, "out"), // a symlink inside the root leading out
		filepath.Join(link, "..", "base"),
	}
	for _, dir := range refused {
		_, err := Build(context.Background(), root, dir, Options{})
		var pe *PathEscapeError
		if !errors.As(err, &pe) {
			t.Errorf("%s: want *PathEscapeError, got %v", dir, err)
		}
	}
}
