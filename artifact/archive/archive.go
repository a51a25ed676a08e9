package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/internal/ignore"
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
	maxIgnoreFileSize = ignore.MaxFileSize
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
		log:    logr.FromContextOrDiscard(ctx),
		root:   root,
		tw:     tar.NewWriter(bw),
		noFile: opts.NoIgnoreFile,
		buf:    make([]byte, 256<<10),
	}
	var base []gitignore.Pattern
	if !opts.NoDefaultIgnore {
		base = ignore.Parse(DefaultIgnorePatterns(), nil)
	}
	a.caller = ignore.Parse(opts.Ignore, nil)

	err = a.run(ctx, base)
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

var epoch = time.Unix(0, 0).UTC()

func (a *archiver) readIgnoreFile(dir *os.Root, name string) ([]string, error) {
	f, err := dir.Open(IgnoreFile)
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
	return ignore.Lines(data), nil
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
