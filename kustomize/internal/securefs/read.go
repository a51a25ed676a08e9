package securefs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitopskit/kit/kustomize/internal/yamlalias"
)

// AliasError reports a YAML file whose aliases expand beyond the limit, or
// an alias inside its own anchor. It wraps ErrLimit.
type AliasError struct {
	// Path is the file: relative to the source root for source files, in
	// the virtual namespace otherwise.
	Path string
	// Line is the line of the document (or of the recursive alias).
	Line int
	// Reason says what was found.
	Reason string
}

func (e *AliasError) Error() string {
	return fmt.Sprintf("%s: %s", e.Path, e.Reason)
}

// Unwrap makes errors.Is(err, ErrLimit) hold.
func (e *AliasError) Unwrap() error { return ErrLimit }

func (f *FS) charge(n int64) error {
	if f.opts.MaxFiles > 0 && f.files.Add(1) > f.opts.MaxFiles {
		return f.refuse(fmt.Errorf("%w: more than %d files read", ErrLimit, f.opts.MaxFiles))
	} else if f.opts.MaxFiles <= 0 {
		f.files.Add(1)
	}
	return f.chargeBytes(n)
}

func (f *FS) chargeBytes(n int64) error {
	if t := f.bytes.Add(n); f.opts.MaxBytes > 0 && t > f.opts.MaxBytes {
		return f.refuse(fmt.Errorf("%w: more than %d bytes read", ErrLimit, f.opts.MaxBytes))
	}
	return nil
}

// ReadFile implements filesys.FileSystem. Every file's content passes the
// alias bound and Inspect before kustomize sees it.
func (f *FS) ReadFile(p string) ([]byte, error) {
	a, rel, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	var (
		data []byte
		name string // for errors
		vp   string // virtual path for Inspect
	)
	switch a {
	case areaOverlay:
		if data, err = f.mem.ReadFile(rel); err != nil {
			return nil, err
		}
		if err := f.charge(int64(len(data))); err != nil {
			return nil, err
		}
		name, vp = rel, rel
	case areaExtra:
		if data, err = f.readExtra(rel); err != nil {
			return nil, err
		}
		name, vp = rel, rel
	default:
		name, vp = rel, SourceMount+"/"+rel
		if rel == "." {
			vp = SourceMount
		}
		if o, ok := f.override(rel); ok {
			data = o
			if err := f.charge(int64(len(data))); err != nil {
				return nil, err
			}
			break
		}
		if data, err = f.read(rel); err != nil {
			return nil, err
		}
		if f.opts.Transform != nil {
			if data, err = f.opts.Transform(rel, data); err != nil {
				return nil, f.refuse(err)
			}
		}
	}
	return f.serve(name, vp, data)
}

// serve applies the content checks to a file about to reach kustomize.
func (f *FS) serve(name, vp string, data []byte) ([]byte, error) {
	if err := f.alive(); err != nil {
		return nil, err
	}
	if err := yamlalias.Check(data, f.opts.AliasFloor); err != nil {
		ae := &AliasError{Path: name, Reason: err.Error()}
		var ye *yamlalias.Error
		if errors.As(err, &ye) {
			ae.Line = ye.Line
		}
		return nil, f.refuse(ae)
	}
	if f.opts.Inspect != nil {
		if err := f.opts.Inspect(vp, data); err != nil {
			return nil, f.refuse(err)
		}
	}
	return data, nil
}

// ReadRaw reads a file of the source by its path relative to the root,
// counting it against the limits but without the Transform and the content
// checks (the caller parses it itself).
func (f *FS) ReadRaw(rel string) ([]byte, error) {
	a, r, err := f.resolve(SourceMount + "/" + rel)
	if err != nil {
		return nil, err
	}
	if a != areaSource {
		return nil, f.escape(rel, "outside the source root")
	}
	return f.read(r)
}

// read reads a regular file of the source through the root, within the
// limits. Anything but a regular file (a FIFO, a device, a socket) is
// refused without blocking: it is opened non-blocking and checked first.
func (f *FS) read(rel string) ([]byte, error) {
	file, err := f.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, f.classify(rel, err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", rel)
	}
	if !st.Mode().IsRegular() {
		return nil, f.refuse(fmt.Errorf("%s is not a regular file but a %s", rel, kindOf(st.Mode())))
	}
	return f.readAll(rel, file, st.Size())
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

func (f *FS) readExtra(p string) ([]byte, error) {
	file, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return f.readAll(p, file, st.Size())
}

func (f *FS) readAll(name string, r io.Reader, size int64) ([]byte, error) {
	if err := f.charge(0); err != nil {
		return nil, err
	}
	// Read through a limit so a file growing under us cannot exceed the
	// budget either.
	limit := int64(-1)
	if f.opts.MaxBytes > 0 {
		limit = f.opts.MaxBytes - f.bytes.Load() + 1
		r = io.LimitReader(r, limit)
	}
	var buf bytes.Buffer
	if size > 0 && (limit < 0 || size < limit) {
		buf.Grow(int(size) + 1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if err := f.chargeBytes(int64(buf.Len())); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Open implements filesys.FileSystem. The file is read whole through
// ReadFile, so it passes the same limits and checks, and served from
// memory.
func (f *FS) Open(p string) (filesys.File, error) {
	st, err := f.stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	data, err := f.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(data), info: st}, nil
}

type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (m *memFile) Write([]byte) (int, error)  { return 0, ErrReadOnly }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Stat() (os.FileInfo, error) { return m.info, nil }

// overrideInfo describes a file served by Override.
type overrideInfo struct {
	name string
	size int64
}

func (o overrideInfo) Name() string       { return o.name }
func (o overrideInfo) Size() int64        { return o.size }
func (o overrideInfo) Mode() fs.FileMode  { return 0o444 }
func (o overrideInfo) ModTime() time.Time { return time.Time{} }
func (o overrideInfo) IsDir() bool        { return false }
func (o overrideInfo) Sys() any           { return nil }
