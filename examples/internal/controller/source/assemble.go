package source

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// errUnsafePath is the error of a path or link that would leave the folder
// it must stay in.
var errUnsafePath = errors.New("unsafe path")

// cleanRelative checks a slash-separated path of a spec (sparseCheckout,
// include fromPath and toPath) and returns it cleaned: relative, never
// climbing with "..", "." for the root. field names the field in errors.
func cleanRelative(field, p string) (string, error) {
	if p == "" {
		return ".", nil
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%s %q: %w: want a relative, slash-separated path", field, p, errUnsafePath)
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return "", fmt.Errorf("%s %q: %w: '..' is not allowed", field, p, errUnsafePath)
		}
	}
	return path.Clean(p), nil
}

// linkStaysInside reports whether a symbolic link at rel (slash-separated,
// relative to a subtree's root) with the given target resolves inside that
// subtree, whatever the other links of the subtree point to: the target
// is relative, its ".." elements all come first (so a link through
// another link, "l/..", cannot climb further than it reads), and they do
// not climb above the subtree's root.
func linkStaysInside(rel, target string) bool {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
		return false
	}
	normal := false
	for _, e := range strings.Split(target, "/") {
		switch e {
		case "..":
			if normal {
				return false
			}
		case "", ".":
		default:
			normal = true
		}
	}
	resolved := path.Join(path.Dir(rel), target)
	return resolved != ".." && !strings.HasPrefix(resolved, "../")
}

// copyLimits bounds one copy.
type copyLimits struct {
	entries int   // files, folders and links
	bytes   int64 // of regular files
}

// copyTree copies the folder (or regular file) at src, relative to srcRoot,
// to dst, relative to dstRoot, which must not exist (or be "." when src is
// a folder, to copy into the root itself): folders, regular files
// with their executable bit, and symbolic links that stay inside the
// copied subtree (linkStaysInside); any other link fails the copy with
// errUnsafePath, naming it. Both sides are resolved through os.Root, so
// nothing is read or written outside the roots; links are copied, never
// followed. The limits count everything copied.
func copyTree(srcRoot, dstRoot *os.Root, src, dst string, lim *copyLimits) error {
	fi, err := srcRoot.Lstat(filepath.FromSlash(src))
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return copyEntry(srcRoot, dstRoot, src, dst, "", fi, lim)
	}
	if dst != "." {
		if err := dstRoot.Mkdir(filepath.FromSlash(dst), 0o755); err != nil {
			return err
		}
	}
	return fs.WalkDir(srcRoot.FS(), src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel := strings.TrimPrefix(p, src+"/")
		if src == "." {
			rel = p
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return copyEntry(srcRoot, dstRoot, p, path.Join(dst, rel), rel, fi, lim)
	})
}

// copyEntry copies one entry of copyTree; rel is its path inside the
// copied subtree.
func copyEntry(srcRoot, dstRoot *os.Root, src, dst, rel string, fi fs.FileInfo, lim *copyLimits) error {
	if lim.entries--; lim.entries < 0 {
		return fmt.Errorf("more than the %w of entries", errCopyLimit)
	}
	switch {
	case fi.IsDir():
		return dstRoot.Mkdir(filepath.FromSlash(dst), 0o755)
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := srcRoot.Readlink(filepath.FromSlash(src))
		if err != nil {
			return err
		}
		if rel == "" || !linkStaysInside(rel, target) {
			return fmt.Errorf("%w: symbolic link %s -> %s leads out of the copied folder", errUnsafePath, src, target)
		}
		return dstRoot.Symlink(target, filepath.FromSlash(dst))
	case fi.Mode().IsRegular():
		if lim.bytes -= fi.Size(); lim.bytes < 0 {
			return fmt.Errorf("more than the %w of bytes", errCopyLimit)
		}
		return copyFile(srcRoot, dstRoot, src, dst, fi)
	}
	return fmt.Errorf("%w: %s is neither a file, a folder nor a symbolic link", errUnsafePath, src)
}

// errCopyLimit is the error of a copy past its limits.
var errCopyLimit = errors.New("limit")

func copyFile(srcRoot, dstRoot *os.Root, src, dst string, fi fs.FileInfo) error {
	in, err := srcRoot.OpenFile(filepath.FromSlash(src), os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	mode := fs.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := dstRoot.OpenFile(filepath.FromSlash(dst), os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	// Copy at most what Lstat said: a file growing meanwhile is cut, and
	// the limits hold.
	if _, err := io.Copy(out, io.LimitReader(in, fi.Size())); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// replaceFolder makes dst (slash-separated, relative to root) ready to be
// copied into: whatever is at dst is removed, and its parent folders are
// created. A parent that exists as anything but a folder (a symbolic link
// above all, which would send the copy elsewhere) is refused.
func replaceFolder(root *os.Root, dst string) error {
	parts := strings.Split(dst, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		fi, err := root.Lstat(filepath.FromSlash(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := root.Mkdir(filepath.FromSlash(p), 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symbolic link", errUnsafePath, p)
		case !fi.IsDir():
			return fmt.Errorf("%w: %s is a file", errUnsafePath, p)
		}
	}
	return root.RemoveAll(filepath.FromSlash(dst))
}
