package bucket

import (
	"context"
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSplitKey checks that every key splitKey accepts is a clean, local,
// slash-separated path that stays inside any root, whatever the key.
func FuzzSplitKey(f *testing.F) {
	for _, k := range []string{
		"a.yaml", "apps/prod/cm.yaml", "dir/", "../x", "a/../../x", "/abs", "a//b", "./a", "a/.", "..",
		"a\\b", "C:\\x", "a\x00b", "\xff", "é/ü.yaml", ".sourceignore", "a/.../b", "...", " /x", "a/ ",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		elems, err := splitKey(key)
		if err != nil {
			if !errors.Is(err, ErrUnsafeKey) {
				t.Fatalf("key %q: %v does not wrap ErrUnsafeKey", key, err)
			}
			return
		}
		p := strings.TrimSuffix(key, "/")
		switch {
		case !filepath.IsLocal(p):
			t.Fatalf("accepted %q, not local", key)
		case path.Clean(p) != p:
			t.Fatalf("accepted %q, not clean", key)
		case strings.ContainsAny(p, "\\\x00"):
			t.Fatalf("accepted %q with a backslash or NUL", key)
		case strings.Join(elems, "/") != p:
			t.Fatalf("elements %q of %q", elems, key)
		case len(key) > MaxKeyLength:
			t.Fatalf("accepted %d bytes", len(key))
		}
		root := "/srv/dst"
		if j := filepath.Join(root, filepath.FromSlash(p)); !strings.HasPrefix(j, root+"/") {
			t.Fatalf("accepted %q joining to %q", key, j)
		}
	})
}

// FuzzSelect feeds arbitrary keys and .sourceignore content to the
// selection: it never panics, keeps objects in key order, and never
// selects a key that is also the folder of another selected one.
func FuzzSelect(f *testing.F) {
	f.Add("a/b.yaml\na/c.png\nd/e.md\n.sourceignore", "*.md\n!d/\n/a/")
	f.Add("x\nx/y\n", "")
	f.Add("a\na/b\n", "/a\n")
	f.Add("d/.sourceignore\nd/x\nd/y/z\n", "!*.png\n**/z\n")
	f.Fuzz(func(t *testing.T, keyList, ignoreFile string) {
		var es []entry
		seen := map[string]bool{}
		for _, k := range strings.Split(keyList, "\n") {
			elems, err := splitKey(k)
			if err != nil || isFolderMarker(k) || seen[k] {
				continue
			}
			seen[k] = true
			es = append(es, entry{elems: elems, obj: Object{Key: k, ETag: "e"}})
		}
		if len(es) > 500 {
			return
		}
		read := func(Object) ([]string, error) { return ignoreLines([]byte(ignoreFile)), nil }
		sel, err := selectObjects(context.Background(), es, ListOptions{Ignore: strings.Split(ignoreFile, "\n")}, read)
		if err != nil {
			if !errors.Is(err, ErrUnsafeKey) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if len(sel.objects)+sel.ignored != len(es) {
			t.Fatalf("%d selected + %d ignored != %d listed", len(sel.objects), sel.ignored, len(es))
		}
		picked := map[string]bool{}
		for i, o := range sel.objects {
			if i > 0 && sel.objects[i-1].Key >= o.Key {
				t.Fatalf("not in key order: %q, %q", sel.objects[i-1].Key, o.Key)
			}
			picked[o.Key] = true
		}
		for k := range picked {
			for d := path.Dir(k); d != "."; d = path.Dir(d) {
				if picked[d] {
					t.Fatalf("selected both %q and its folder %q", k, d)
				}
			}
		}
	})
}
