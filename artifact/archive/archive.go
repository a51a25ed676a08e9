package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/internal/pgzip"
)

// Defaults of [Options].
const (
	// DefaultLevel is the DEFLATE level used when Options.Level is 0.
	DefaultLevel = 5
	// DefaultBlockSize is the compression block size used when
	// Options.BlockSize is 0. It is part of the output format: changing it
	// changes the bytes (but never their meaning).
	DefaultBlockSize = 1 << 20
	// IgnoreFile is the name of the per-directory ignore file.
	IgnoreFile = ".sourceignore"
	// maxIgnoreFileSize bounds a .sourceignore file.
	maxIgnoreFileSize = 1 << 20
)

// ErrIgnoreFileTooLarge is returned for a .sourceignore over 1 MiB.
var ErrIgnoreFileTooLarge = errors.New("ignore file too large")

// DefaultIgnorePatterns returns the patterns applied before any other: version
// control metadata, CI configuration and common binary formats that do not
// belong in a configuration artifact. It returns a new slice on every call.
func DefaultIgnorePatterns() []string {
	return []string{
		// Version control.
		".git/", ".gitignore", ".gitmodules", ".gitattributes",
		".hg/", ".svn/", ".bzr/",
		// CI configuration.
		".github/", ".gitlab-ci.yml", ".circleci/", ".travis.yml",
		".drone.yml", "appveyor.yml", "azure-pipelines.yml", "cloudbuild.yaml",
		"Jenkinsfile", ".buildkite/",
		// Binary and archive formats.
		"*.jpg", "*.jpeg", "*.gif", "*.png", "*.bmp", "*.ico", "*.svg",
		"*.wmv", "*.flv", "*.mp4", "*.mov",
		"*.tar.gz", "*.tgz", "*.zip", "*.jar",
	}
}

// Options tunes [Build]. The zero value is the documented default.
type Options struct {
	// Ignore holds caller patterns in .gitignore syntax, relative to the
	// root. They are applied last, so "!pattern" can re-include what a
	// default or a .sourceignore left out.
	Ignore []string
	// NoDefaultIgnore drops [DefaultIgnorePatterns].
	NoDefaultIgnore bool
	// NoIgnoreFile disables reading .sourceignore files.
	NoIgnoreFile bool
	// Level is the DEFLATE level, 1 (fastest) to 9 (smallest); 0 means
	// [DefaultLevel]. It changes the bytes.
	Level int
	// BlockSize is the size of the independently compressed blocks; 0 means
	// [DefaultBlockSize]. Minimum 32 KiB. It changes the bytes.
	BlockSize int
	// Workers is the number of compressing goroutines; 0 means GOMAXPROCS.
	// It never changes the bytes.
	Workers int
	// Algorithm is the digest algorithm of [Result.Digest]; empty means
	// [artifact.Canonical].
	Algorithm artifact.Algorithm
}

// Result describes a written archive.
type Result struct {
	// Digest is the digest of the tar.gz bytes.
	Digest artifact.Digest
	// Size is the number of tar.gz bytes written.
	Size int64
	// Entries is the number of tar entries (files, directories, links).
	Entries int
	// Skipped lists, in archive order, the slash-separated paths left out
	// for a reason other than an ignore rule: links that do not resolve
	// inside the root, sockets, devices and FIFOs.
	Skipped []string
}

// Build writes dir as a reproducible tar.gz to w and returns its digest and
// size. On error, w has received a partial stream that must be discarded.
func Build(ctx context.Context, w io.Writer, dir string, opts Options) (Result, error) {
	alg := opts.Algorithm
	if alg == "" {
		alg = artifact.Canonical
	}
	digester, err := artifact.NewDigester(alg)
	if err != nil {
		return Result{}, err
	}
	level := opts.Level
	if level == 0 {
		level = DefaultLevel
	}
	blockSize := opts.BlockSize
	if blockSize == 0 {
		blockSize = DefaultBlockSize
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	realRoot, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return Result{}, fmt.Errorf("archive %s: %w", dir, err)
	}
	if realRoot, err = filepath.Abs(realRoot); err != nil {
		return Result{}, fmt.Errorf("archive %s: %w", dir, err)
	}
	root, err := os.OpenRoot(realRoot)
	if err != nil {
		return Result{}, fmt.Errorf("archive %s: %w", dir, err)
	}
	defer root.Close()

	cw := &countWriter{}
	out := io.MultiWriter(w, digester, cw)
	zw, err := pgzip.NewWriter(out, level, blockSize, workers)
	if err != nil {
		return Result{}, fmt.Errorf("archive %s: %w", dir, err)
	}
	bw := bufio.NewWriterSize(zw, 256<<10)
	a := &archiver{
		ctx:    ctx,
		log:    logr.FromContextOrDiscard(ctx),
		root:   root,
		tw:     tar.NewWriter(bw),
		noFile: opts.NoIgnoreFile,
		buf:    make([]byte, 256<<10),
	}
	var base []gitignore.Pattern
	if !opts.NoDefaultIgnore {
		base = parsePatterns(DefaultIgnorePatterns(), nil)
	}
	a.caller = parsePatterns(opts.Ignore, nil)

	err = a.walk(nil, base)
	if err == nil {
		err = a.tw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, fmt.Errorf("archive %s: %w", dir, err)
	}
	return Result{
		Digest:  digester.Digest(alg),
		Size:    cw.n,
		Entries: a.entries,
		Skipped: a.skipped,
	}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

type archiver struct {
	ctx     context.Context
	log     logr.Logger
	root    *os.Root
	tw      *tar.Writer
	caller  []gitignore.Pattern
	noFile  bool
	buf     []byte
	entries int
	skipped []string
}

func parsePatterns(lines []string, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(l, domain))
	}
	return ps
}

var epoch = time.Unix(0, 0).UTC()

// walk archives the directory at rel (path elements from the root). base
// holds the default and inherited .sourceignore patterns.
func (a *archiver) walk(rel []string, base []gitignore.Pattern) error {
	relPath := "."
	if len(rel) > 0 {
		relPath = path.Join(rel...)
	}
	d, err := a.root.Open(relPath)
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
				lines, err := a.readIgnoreFile(path.Join(relPath, IgnoreFile))
				if err != nil {
					return err
				}
				// Copy so sibling directories do not see these patterns.
				base = append(slices.Clip(base), parsePatterns(lines, slices.Clone(rel))...)
				break
			}
		}
	}
	matcher := gitignore.NewMatcher(append(slices.Clip(base), a.caller...))

	for _, e := range entries {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		elems := append(slices.Clip(rel), e.Name())
		name := path.Join(elems...)
		typ := e.Type()
		if matcher.Match(elems, typ.IsDir()) {
			continue
		}
		switch {
		case typ.IsDir():
			if err := a.writeHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755}); err != nil {
				return err
			}
			if err := a.walk(elems, base); err != nil {
				return err
			}
		case typ.IsRegular():
			if err := a.writeFile(name, e); err != nil {
				return err
			}
		case typ&fs.ModeSymlink != 0:
			if err := a.writeSymlink(name); err != nil {
				return err
			}
		default:
			a.skip(name, "not a regular file, directory or symlink")
		}
	}
	return nil
}

func (a *archiver) readIgnoreFile(name string) ([]string, error) {
	f, err := a.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIgnoreFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxIgnoreFileSize {
		return nil, fmt.Errorf("%s: %w (over %d bytes)", name, ErrIgnoreFileTooLarge, maxIgnoreFileSize)
	}
	return strings.Split(string(data), "\n"), nil
}

func (a *archiver) skip(name, reason string) {
	a.skipped = append(a.skipped, name)
	a.log.V(1).Info("skipping entry", "path", name, "reason", reason)
}

func (a *archiver) writeHeader(h *tar.Header) error {
	h.Format = tar.FormatPAX
	h.ModTime = epoch
	a.entries++
	return a.tw.WriteHeader(h)
}

func (a *archiver) writeFile(name string, e fs.DirEntry) error {
	f, err := a.root.OpenFile(name, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		// Replaced by something else since the directory was read.
		a.skip(name, "changed type while archiving")
		return nil
	}
	mode := int64(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	size := fi.Size()
	if err := a.writeHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size}); err != nil {
		return err
	}
	for size > 0 {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(a.buf[:min(int64(len(a.buf)), size)])
		if n > 0 {
			if _, werr := a.tw.Write(a.buf[:n]); werr != nil {
				return werr
			}
			size -= int64(n)
		}
		if err == io.EOF {
			return fmt.Errorf("%s: file shrank while archiving", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *archiver) writeSymlink(name string) error {
	target, err := a.root.Readlink(name)
	if err != nil {
		return err
	}
	if reason := a.linkProblem(name, target); reason != "" {
		a.skip(name, reason)
		return nil
	}
	return a.writeHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: filepath.ToSlash(target), Mode: 0o777})
}

// linkProblem explains why the link at name (relative to the root) pointing
// to target cannot be archived, or returns "".
func (a *archiver) linkProblem(name, target string) string {
	if target == "" || filepath.IsAbs(target) {
		return "absolute or empty link target"
	}
	lexical := filepath.Join(filepath.Dir(filepath.FromSlash(name)), target)
	if !filepath.IsLocal(lexical) {
		return "link target escapes the root"
	}
	// Lexical cleaning ignores links along the way ("l -> s/../x" with
	// "s -> ."), so resolve through the os.Root too: it refuses any step
	// that leaves the root, even one that would come back in.
	if _, err := a.root.Stat(name); err != nil {
		return "link target does not resolve inside the root"
	}
	return ""
}
