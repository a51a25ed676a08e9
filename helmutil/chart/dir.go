package chart

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/ignore"
)

// maxIgnoreFile bounds a .helmignore file.
const maxIgnoreFile = 1 << 20

// LoadDir loads the chart in the directory dir of root: a chart inside a
// GitRepository, OCIRepository or Bucket artifact extracted at root. dir
// is relative to root ("charts/app", "./app"); absolute paths and ".." are
// refused. Everything is read through an os.Root: a symbolic link is
// followed only while it stays inside root, one leaving it is refused
// (ErrUnsafePath), and so is a link loop (ErrLimitExceeded). The chart's
// .helmignore applies, as with `helm package`, and the limits of o hold for
// the chart and its subcharts together. Only apiVersion v1 and v2 charts
// load.
func LoadDir(ctx context.Context, root, dir string, o LoadOptions) (*chartv2.Chart, error) {
	rel, err := cleanRel(dir)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return loadDir(ctx, r.FS(), rel, newBudget(o), 0)
}

// cleanRel checks a path relative to a root and returns it cleaned, with
// "/" separators ("." for the root itself).
func cleanRel(p string) (string, error) {
	if strings.ContainsRune(p, '\\') {
		return "", newErr("", p, ErrUnsafePath, "backslash in the path")
	}
	if path.IsAbs(p) {
		return "", newErr("", p, ErrUnsafePath, "absolute path")
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", newErr("", p, ErrUnsafePath, "path leaves the root")
	}
	return c, nil
}

// loadDir reads the chart at rel of fsys (an os.Root's FS).
func loadDir(ctx context.Context, fsys fs.FS, rel string, b *budget, depth int) (*chartv2.Chart, error) {
	fi, err := fs.Stat(fsys, rel)
	if err != nil {
		return nil, statErr(rel, err)
	}
	if !fi.IsDir() {
		return nil, newErr("", rel, ErrInvalidChart, "not a directory")
	}
	rules := ignore.Empty()
	if data, err := readSmall(fsys, path.Join(rel, ignore.HelmIgnore), maxIgnoreFile); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, wrapErr(rel, ignore.HelmIgnore, ErrInvalidChart, err, "does not parse")
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, statErr(path.Join(rel, ignore.HelmIgnore), err)
	}
	rules.AddDefaults()
	w := &dirWalker{ctx: ctx, fsys: fsys, top: rel, rules: rules, b: b}
	if err := w.walk("", depth); err != nil {
		return nil, err
	}
	return fromFiles(ctx, w.files, b, rel, 0)
}

type dirWalker struct {
	ctx   context.Context
	fsys  fs.FS
	top   string
	rules *ignore.Rules
	b     *budget
	files []*archive.BufferedFile
}

// walk reads the directory n (relative to the chart) in name order,
// following symbolic links inside the root.
func (w *dirWalker) walk(n string, depth int) error {
	if depth > MaxDepth {
		return newErr(w.top, n, ErrLimitExceeded, "directories nested more than %d deep (a symbolic link loop?)", MaxDepth)
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	ents, err := fs.ReadDir(w.fsys, path.Join(w.top, n))
	if err != nil {
		return statErr(path.Join(w.top, n), err)
	}
	for _, e := range ents {
		name := path.Join(n, e.Name())
		full := path.Join(w.top, name)
		fi, err := fs.Stat(w.fsys, full) // follows links, inside the root only
		if err != nil {
			if errors.Is(err, syscall.ELOOP) {
				return newErr(w.top, name, ErrLimitExceeded, "too many symbolic links to follow (a loop?)")
			}
			if e.Type()&fs.ModeSymlink != 0 {
				return newErr(w.top, name, ErrUnsafePath, "symbolic link leaves the root or points to nothing")
			}
			return statErr(full, err)
		}
		if w.rules.Ignore(name, fi) {
			continue
		}
		if fi.IsDir() {
			if err := w.walk(name, depth+1); err != nil {
				return err
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			return newErr(w.top, name, ErrUnsafePath, "not a regular file")
		}
		if err := w.b.takeFile(w.top, name); err != nil {
			return err
		}
		f, err := w.fsys.Open(full)
		if err != nil {
			return statErr(full, err)
		}
		data, err := w.b.read(w.top, name, f)
		f.Close()
		if err != nil {
			return err
		}
		w.files = append(w.files, &archive.BufferedFile{Name: name, ModTime: fi.ModTime(), Data: data})
	}
	return nil
}

// statErr classifies an error of the root: an escape is ErrUnsafePath.
func statErr(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return wrapErr("", p, ErrInvalidChart, fs.ErrNotExist, "does not exist")
	}
	if strings.Contains(err.Error(), "escapes") {
		return newErr("", p, ErrUnsafePath, "path leaves the root")
	}
	return wrapErr("", p, ErrInvalidChart, err, "cannot read")
}

func readSmall(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := &budget{bytes: limit, fileBytes: limit, maxBytes: limit}
	return b.read("", name, f)
}
