package securefs

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Stat describes a path of the virtual namespace (following symlinks that
// stay inside the source).
func (f *FS) Stat(p string) (fs.FileInfo, error) { return f.stat(p) }

func (f *FS) stat(p string) (fs.FileInfo, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	switch a {
	case areaOverlay:
		file, err := f.mem.Open(rel)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		return file.Stat()
	case areaExtra:
		return os.Stat(rel)
	}
	if o, ok := f.override(rel); ok {
		return overrideInfo{name: path.Base(rel), size: int64(len(o))}, nil
	}
	st, err := f.root.Stat(rel)
	if err != nil {
		return nil, f.classify(rel, err)
	}
	return st, nil
}

// IsDir implements filesys.FileSystem.
func (f *FS) IsDir(p string) bool {
	st, err := f.stat(p)
	return err == nil && st.IsDir()
}

// Exists implements filesys.FileSystem.
func (f *FS) Exists(p string) bool {
	_, err := f.stat(p)
	return err == nil
}

// ReadDir implements filesys.FileSystem.
func (f *FS) ReadDir(p string) ([]string, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	switch a {
	case areaOverlay:
		return f.mem.ReadDir(rel)
	case areaExtra:
		return readDirNames(os.DirFS(rel), ".")
	}
	if _, err := f.root.Stat(rel); err != nil {
		return nil, f.classify(rel, err)
	}
	return readDirNames(f.root.FS(), rel)
}

func readDirNames(fsys fs.FS, dir string) ([]string, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// CleanedAbs implements filesys.FileSystem. Directories inside the source
// are canonicalised (symlinks resolved, within the root) as kustomize's own
// on-disk filesystem does, so its cycle detection sees through symlinks.
func (f *FS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return "", "", err
	}
	switch a {
	case areaOverlay:
		return f.mem.CleanedAbs(rel)
	case areaExtra:
		return filesys.MakeFsOnDisk().CleanedAbs(rel)
	}
	isDir := false
	if _, ok := f.override(rel); !ok {
		st, err := f.root.Stat(rel)
		if err != nil {
			return "", "", f.classify(rel, err)
		}
		isDir = st.IsDir()
	}
	canon := func(r string) (string, error) {
		real, err := filepath.EvalSymlinks(filepath.Join(f.rootReal, filepath.FromSlash(r)))
		if err != nil {
			return "", err
		}
		inner, ok := f.inside(real)
		if !ok {
			return "", f.escape(path.Join(SourceMount, r), "symlink resolves outside the source root")
		}
		return path.Join(SourceMount, inner), nil
	}
	if isDir {
		d, err := canon(rel)
		return filesys.ConfirmedDir(d), "", err
	}
	d, err := canon(path.Dir(rel))
	return filesys.ConfirmedDir(d), path.Base(rel), err
}

// Glob implements filesys.FileSystem for patterns inside the source.
func (f *FS) Glob(pattern string) ([]string, error) {
	a, rel, err := f.resolve(pattern)
	if err != nil {
		return nil, err
	}
	if a != areaSource {
		return f.mem.Glob(rel)
	}
	m, err := fs.Glob(f.root.FS(), rel)
	if err != nil {
		return nil, err
	}
	for i := range m {
		m[i] = path.Join(SourceMount, m[i])
	}
	return m, nil
}

// Walk implements filesys.FileSystem for directories inside the source.
// Symlinked directories are not descended into.
func (f *FS) Walk(p string, walkFn filepath.WalkFunc) error {
	a, rel, err := f.resolve(p)
	if err != nil {
		return err
	}
	if a != areaSource {
		return f.mem.Walk(rel, walkFn)
	}
	return fs.WalkDir(f.root.FS(), rel, func(q string, d fs.DirEntry, err error) error {
		if aerr := f.alive(); aerr != nil {
			return aerr
		}
		vp := path.Join(SourceMount, q)
		if err != nil {
			return walkFn(vp, nil, err)
		}
		info, err := d.Info()
		return walkFn(vp, info, err)
	})
}

// RemoveAll is allowed only on remote-base clone directories (kustomize
// removes its clones when the build ends); everything else is read-only.
func (f *FS) RemoveAll(p string) error {
	a, rel, err := f.resolve(p)
	if err != nil {
		return err
	}
	if a == areaExtra {
		return os.RemoveAll(rel)
	}
	return ErrReadOnly
}

// Create implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) Create(string) (filesys.File, error) { return nil, ErrReadOnly }

// Mkdir implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) Mkdir(string) error { return ErrReadOnly }

// MkdirAll implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) MkdirAll(string) error { return ErrReadOnly }

// WriteFile implements filesys.FileSystem; the filesystem is read-only.
func (f *FS) WriteFile(string, []byte) error { return ErrReadOnly }
