package gogit

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/git/gittest"
)

func TestSafeLinkTarget(t *testing.T) {
	t.Parallel()
	cases := []struct {
		link, target string
		want         bool
	}{
		{"l", "x", true},
		{"l", "./x", true},
		{"l", "d/e/x", true},
		{"d/l", "../x", true},
		{"d/e/l", "../../x", true},
		{"d/l", ".././x", true},
		{"l", "..", false},
		{"l", "../x", false},
		{"d/l", "../../x", false},
		{"l", "/etc/passwd", false},
		{"l", "m/..", false}, // m may be a link to a folder: ".." climbs from its target
		{"l", "m/../x", false},
		{"l", "", false},
		{"l", "a\x00b", false},
	}
	for _, tc := range cases {
		if got := safeLinkTarget(tc.link, tc.target); got != tc.want {
			t.Errorf("safeLinkTarget(%q, %q) = %v, want %v", tc.link, tc.target, got, tc.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"a": true, ".gitignore": true, "..x": true, "": false, ".": false, "..": false,
		".git": false, ".GIT": false, "a/b": false, `a\b`: false, "a\x00": false,
	} {
		if got := safeName(name); got != want {
			t.Errorf("safeName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestExportRacilyCleanFile checks the content-hash fallback: a file edited
// within the clock tick the state was recorded in keeps its change time, so
// the state is rewritten here to look exactly like that.
func TestExportRacilyCleanFile(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "first", map[string]string{"a.txt": "aaaa", "b.txt": "bbbb"})
	root := t.TempDir()
	cache, err := NewCache(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(srv.HTTPURL("app.git"), WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := c.Export(ctx, dir, CloneOptions{}); err != nil {
		t.Fatal(err)
	}
	states, _ := filepath.Glob(filepath.Join(root, "*.exports", "*.json"))
	if len(states) != 1 {
		t.Fatalf("states = %v", states)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	var s exportState
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Entries, err = scan(dir); err != nil {
		t.Fatal(err)
	}
	s.Probe = 0 // every entry is racily clean
	if data, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(states[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Export(ctx, dir, CloneOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(got) != "aaaa" {
		t.Fatalf("a.txt = %q: the racily clean edit was not detected", got)
	}
}
