package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/artifact/internal/ignore"
)

// The archive is produced by a pipeline whose output order is fixed by the
// walk, never by scheduling:
//
//	walker ──items (ordered)──────────────────────────► writer (tar → gzip)
//	   └────files──► readers (open, stat, read ahead) ──┘ (done per item)
//
// The walker lists directories in byte order and applies ignore rules; the
// readers open and read small files ahead of time, in parallel; the writer
// consumes items strictly in walk order. Concurrency changes speed only.
const (
	readers = 4
	// smallFile is the largest file read ahead into memory; larger files
	// are streamed by the writer. With queueLen items in flight, read-ahead
	// memory stays under queueLen*smallFile.
	smallFile = 128 << 10
	queueLen  = 64
)

type itemKind int

const (
	dirItem itemKind = iota
	fileItem
	linkItem
	skipItem
)

type item struct {
	kind   itemKind
	name   string // slash-separated path from the root
	link   string // symlink target
	reason string // why a skipItem is skipped

	// fileItem: filled by a reader before done is closed.
	dir  *dirRef
	base string
	done chan struct{}
	f    *os.File // still open when the file is streamed by the writer
	data *[]byte  // content of a small file
	size int64
	mode int64
	gone bool // no longer a regular file
	err  error
}

// dirRef is a directory opened as an os.Root, closed when the walker and
// every reader using it are done.
type dirRef struct {
	root *os.Root
	refs atomic.Int32
}

func (d *dirRef) release() {
	if d.refs.Add(-1) == 0 {
		d.root.Close()
	}
}

type archiver struct {
	log     logr.Logger
	root    *os.Root
	tw      *tar.Writer
	caller  []gitignore.Pattern
	noFile  bool
	buf     []byte
	pool    sync.Pool
	entries int
	skipped []string
}

func (a *archiver) run(ctx context.Context, base []gitignore.Pattern) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.pool.New = func() any { b := make([]byte, 0, smallFile); return &b }

	ordered := make(chan *item, queueLen)
	work := make(chan *item, queueLen)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for it := range work {
				a.read(ctx, it)
			}
		})
	}
	walkErr := make(chan error, 1)
	go func() {
		top := &dirRef{root: a.root}
		top.refs.Store(2) // the walker's, and one so the caller's root is never closed here
		err := a.walk(ctx, nil, top, base, ordered, work)
		top.release()
		close(work)
		close(ordered)
		walkErr <- err
	}()

	var err error
	for it := range ordered {
		if err == nil {
			if err = a.write(ctx, it); err != nil {
				cancel(err)
			}
		}
		a.finish(it)
	}
	werr := <-walkErr
	wg.Wait()
	if err == nil {
		err = werr
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	return err
}

// walk lists the directory at rel (path elements from the root) and emits
// its entries in byte order. base holds the default and inherited
// .sourceignore patterns.
func (a *archiver) walk(ctx context.Context, rel []string, dir *dirRef, base []gitignore.Pattern, ordered, work chan<- *item) error {
	d, err := dir.root.Open(".")
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(x, y fs.DirEntry) int { return strings.Compare(x.Name(), y.Name()) })

	if !a.noFile {
		for _, e := range entries {
			if e.Name() == IgnoreFile && e.Type().IsRegular() {
				lines, err := a.readIgnoreFile(dir.root, path.Join(append(slices.Clip(rel), IgnoreFile)...))
				if err != nil {
					return err
				}
				// Copy so sibling directories do not see these patterns.
				base = append(slices.Clip(base), ignore.Parse(lines, slices.Clone(rel))...)
				break
			}
		}
	}
	matcher := gitignore.NewMatcher(append(slices.Clip(base), a.caller...))

	emit := func(it *item) error {
		select {
		case ordered <- it:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		elems := append(slices.Clip(rel), e.Name())
		name := path.Join(elems...)
		typ := e.Type()
		if matcher.Match(elems, typ.IsDir()) {
			continue
		}
		switch {
		case typ.IsDir():
			if err := emit(&item{kind: dirItem, name: name + "/"}); err != nil {
				return err
			}
			sub, err := dir.root.OpenRoot(e.Name())
			if err != nil {
				return err
			}
			ref := &dirRef{root: sub}
			ref.refs.Store(1)
			err = a.walk(ctx, elems, ref, base, ordered, work)
			ref.release()
			if err != nil {
				return err
			}
		case typ.IsRegular():
			dir.refs.Add(1)
			it := &item{kind: fileItem, name: name, dir: dir, base: e.Name(), done: make(chan struct{})}
			if err := emit(it); err != nil {
				dir.release()
				return err
			}
			// The writer waits on it.done, so it must reach a reader.
			work <- it
		case typ&fs.ModeSymlink != 0:
			it := &item{kind: linkItem, name: name}
			target, err := a.root.Readlink(name)
			if err != nil {
				return err
			}
			if reason := a.linkProblem(name, target); reason != "" {
				it.kind, it.reason = skipItem, reason
			}
			it.link = target
			if err := emit(it); err != nil {
				return err
			}
		default:
			if err := emit(&item{kind: skipItem, name: name, reason: "not a regular file, directory or symlink"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// read opens a file item, and reads it if small.
func (a *archiver) read(ctx context.Context, it *item) {
	defer close(it.done)
	if ctx.Err() != nil {
		it.dir.release()
		it.err = context.Cause(ctx)
		return
	}
	f, err := it.dir.root.OpenFile(it.base, os.O_RDONLY|noFollow, 0)
	it.dir.release()
	if err != nil {
		it.err = err
		return
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		it.err = err
		return
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		it.gone = true
		return
	}
	it.size = fi.Size()
	it.mode = 0o644
	if fi.Mode().Perm()&0o111 != 0 {
		it.mode = 0o755
	}
	if it.size > smallFile {
		it.f = f
		return
	}
	buf := a.pool.Get().(*[]byte)
	*buf = (*buf)[:it.size]
	_, err = io.ReadFull(f, *buf)
	f.Close()
	if err != nil {
		a.pool.Put(buf)
		it.err = fmt.Errorf("%s: %w (file shrank while archiving?)", it.name, err)
		return
	}
	it.data = buf
}

// finish releases what an item holds once the writer is done with it.
func (a *archiver) finish(it *item) {
	if it.kind != fileItem {
		return
	}
	<-it.done
	if it.f != nil {
		it.f.Close()
	}
	if it.data != nil {
		a.pool.Put(it.data)
	}
}

// write appends an item to the tar stream.
func (a *archiver) write(ctx context.Context, it *item) error {
	switch it.kind {
	case dirItem:
		return a.writeHeader(&tar.Header{Typeflag: tar.TypeDir, Name: it.name, Mode: 0o755})
	case linkItem:
		return a.writeHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: it.name, Linkname: it.link, Mode: 0o777})
	case skipItem:
		a.skip(it.name, it.reason)
		return nil
	}
	<-it.done
	if it.err != nil {
		return it.err
	}
	if it.gone {
		a.skip(it.name, "changed type while archiving")
		return nil
	}
	if err := a.writeHeader(&tar.Header{Typeflag: tar.TypeReg, Name: it.name, Mode: it.mode, Size: it.size}); err != nil {
		return err
	}
	if it.data != nil {
		_, err := a.tw.Write(*it.data)
		return err
	}
	for size := it.size; size > 0; {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		n, err := it.f.Read(a.buf[:min(int64(len(a.buf)), size)])
		if n > 0 {
			if _, werr := a.tw.Write(a.buf[:n]); werr != nil {
				return werr
			}
			size -= int64(n)
		}
		if err == io.EOF {
			return fmt.Errorf("%s: file shrank while archiving", it.name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
