package gogit

import (
	"path"
	"strings"
	"testing"
)

// FuzzSafeLinkTarget checks, for link paths and targets taken from an
// untrusted tree, that an accepted target never leaves the destination: read
// lexically from the link's folder it stays inside, and no ".." follows a
// normal element (where a link to a folder could make ".." climb out).
func FuzzSafeLinkTarget(f *testing.F) {
	for _, seed := range [][2]string{
		{"l", "x"}, {"d/l", "../x"}, {"l", "m/.."}, {"l", "/etc/passwd"}, {"d/e/l", "../../x/./y"}, {"l", "..//x"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, link, target string) {
		link = strings.Trim(path.Clean("/"+link), "/")
		if link == "" || !safeLinkTarget(link, target) {
			return
		}
		resolved := path.Join(path.Dir(link), target)
		if resolved == ".." || strings.HasPrefix(resolved, "../") || path.IsAbs(resolved) {
			t.Fatalf("%q -> %q accepted but resolves to %q", link, target, resolved)
		}
		normal := false
		for _, el := range strings.Split(target, "/") {
			switch {
			case el == ".." && normal:
				t.Fatalf("%q -> %q accepted with .. after a normal element", link, target)
			case el != "" && el != "." && el != "..":
				normal = true
			}
		}
	})
}
