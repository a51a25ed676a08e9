//go:build unix

package untar

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Defaults of [Options].
const (
	DefaultMaxBytes      int64 = 100 << 20
	DefaultMaxEntries          = 50_000
	DefaultMaxPathLength       = 1024
)

// Errors callers can branch on with errors.Is. Every error names the entry.
var (
	// ErrLimitExceeded is returned when a size, count or length limit is hit.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrUnsafePath is returned for an absolute or escaping entry name.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrUnsafeLink is returned for a link that points outside the
	// destination or to nothing in it.
	ErrUnsafeLink = errors.New("unsafe link")
	// ErrUnsupportedEntry is returned for devices, FIFOs and other entry
	// types that have no place in an artifact.
	ErrUnsupportedEntry = errors.New("unsupported entry type")
	// ErrDestinationNotEmpty is returned when the destination exists and is
	// not an empty directory.
	ErrDestinationNotEmpty = errors.New("destination exists and is not an empty directory")
)

// Options bounds an extraction. The zero value applies the defaults; a
// negative value removes a limit.
type Options struct {
	// MaxBytes bounds the uncompressed tar stream read, in bytes.
	MaxBytes int64
	// MaxFileBytes bounds a single file; 0 means MaxBytes.
	MaxFileBytes int64
	// MaxEntries bounds the number of entries.
	MaxEntries int
	// MaxPathLength bounds entry names and link targets, in bytes.
	MaxPathLength int
	// SkipUnsafeLinks leaves out unsafe symbolic and hard links, reporting
	// them in Result.Skipped, instead of failing.
	SkipUnsafeLinks bool
}

// Result describes a finished extraction.
type Result struct {
	// Entries is the number of entries read.
	Entries int
	// Bytes is the number of uncompressed tar bytes read.
	Bytes int64
	// Skipped lists the links left out under SkipUnsafeLinks.
	Skipped []string
}

func limit64(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt64
	}
	return v
}

func limitInt(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt
	}
	return v
}

// Extract reads a tar stream, gzip-compressed or not (detected from its
// first bytes), from r and extracts it into dst. See the package
// documentation for the checks and the atomicity guarantee.
func Extract(ctx context.Context, r io.Reader, dst string, opts Options) (Result, error) {
	if err := checkDestination(dst); err != nil {
		return Result{}, err
	}
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Result{}, fmt.Errorf("untar: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".untar-*")
	if err != nil {
		return Result{}, fmt.Errorf("untar: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Result{}, fmt.Errorf("untar: %w", err)
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return Result{}, fmt.Errorf("untar: %w", err)
	}
	x := &extractor{
		root:     root,
		maxBytes: limit64(opts.MaxBytes, DefaultMaxBytes),
		maxEnt:   limitInt(opts.MaxEntries, DefaultMaxEntries),
		maxPath:  limitInt(opts.MaxPathLength, DefaultMaxPathLength),
		skip:     opts.SkipUnsafeLinks,
		dirs:     map[string]bool{".": true},
		files:    map[string]bool{},
		pending:  map[string]int{},
	}
	x.maxFile = limit64(opts.MaxFileBytes, x.maxBytes)
	err = x.run(ctx, r)
	root.Close()
	res := Result{Entries: x.entries, Bytes: x.counter.n, Skipped: x.skipped}
	if err != nil {
		return res, fmt.Errorf("untar: %w", err)
	}
	// rename(2) atomically replaces an empty directory, and fails if dst
	// gained content in the meantime.
	if err := unix.Rename(tmp, dst); err != nil {
		if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTDIR) {
			return res, fmt.Errorf("untar: %s: %w", dst, ErrDestinationNotEmpty)
		}
		return res, fmt.Errorf("untar: rename into %s: %w", dst, err)
	}
	ok = true
	return res, nil
}

func checkDestination(dst string) error {
	fi, err := os.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("untar: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("untar: %s: %w", dst, ErrDestinationNotEmpty)
	}
	d, err := os.Open(dst)
	if err != nil {
		return fmt.Errorf("untar: %w", err)
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("untar: %w", err)
		}
		return fmt.Errorf("untar: %s: %w", dst, ErrDestinationNotEmpty)
	}
	return nil
}

type countingReader struct {
	r   io.Reader
	n   int64
	max int64
	ctx context.Context
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if c.n >= c.max {
		// Find out whether there is more before calling it a limit.
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("%w: more than %d uncompressed bytes", ErrLimitExceeded, c.max)
	}
	if rem := c.max - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type extractor struct {
	root     *os.Root
	counter  countingReader
	maxBytes int64
	maxFile  int64
	maxEnt   int
	maxPath  int
	skip     bool

	entries int
	written int64           // file bytes written
	dirs    map[string]bool // directories known to exist
	files   map[string]bool // regular files extracted, for hard links
	links   []*tar.Header   // symbolic links, created at the end (nil: replaced)
	pending map[string]int  // index in links of each symbolic link by name
	skipped []string
	buf     []byte
}

func (x *extractor) run(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var stream io.Reader = br
	if isGzip(br) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read gzip header: %w", err)
		}
		defer zr.Close()
		zr.Multistream(false)
		stream = &gzipStream{raw: br, zr: zr, maxPadding: x.maxBytes}
	}
	x.counter = countingReader{r: stream, max: x.maxBytes, ctx: ctx}
	x.buf = make([]byte, 128<<10)
	tr := tar.NewReader(&x.counter)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive after %d entries: %w", x.entries, err)
		}
		x.entries++
		if x.entries > x.maxEnt {
			return fmt.Errorf("%w: more than %d entries", ErrLimitExceeded, x.maxEnt)
		}
		if err := x.entry(tr, h); err != nil {
			return err
		}
	}
	// Read what follows the end-of-archive marker (within the byte limit) so
	// the gzip checksum is verified and trailing data is bounded too.
	if _, err := io.CopyBuffer(io.Discard, &x.counter, x.buf); err != nil {
		return fmt.Errorf("read archive trailer: %w", err)
	}
	x.links = slices.DeleteFunc(x.links, func(h *tar.Header) bool { return h == nil })
	for _, h := range x.links {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.symlink(h); err != nil {
			return err
		}
	}
	// Follow every link now that the tree is complete, step by step: any
	// step outside the destination, even one that comes back, is refused.
	for _, h := range x.links {
		if err := ctx.Err(); err != nil {
			return err
		}
		reason, err := x.resolve(h.Name)
		if err != nil {
			return fmt.Errorf("entry %q: %w", h.Name, err)
		}
		if reason == "" {
			continue
		}
		if x.skip {
			x.skipped = append(x.skipped, h.Name)
			if err := x.root.Remove(h.Name); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("entry %q: %w: %q %s", h.Name, ErrUnsafeLink, h.Linkname, reason)
	}
	return nil
}

// MaxSymlinkHops is the longest chain of symbolic links a link may resolve
// through: Linux's own limit for one path resolution, so a longer chain
// would fail for whoever reads the tree anyway.
const MaxSymlinkHops = 40

// resolve follows name through the finished tree as the kernel would, one
// element at a time, and returns why it is unsafe ("" when it is not): a
// step above the destination, a chain longer than MaxSymlinkHops, or a
// dangling target reached through a ".." element (a dangling link is kept
// only without one: descending from inside the destination cannot leave
// it, whatever is created there later).
func (x *extractor) resolve(name string) (string, error) {
	var done []string // resolved elements, all inside the destination
	todo := strings.Split(name, "/")
	hops, climbed := 0, false
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "steps outside the destination", nil
			}
			done = done[:len(done)-1]
			climbed = true
			continue
		}
		p := path.Join(append(done, elem)...)
		fi, err := x.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			if climbed || slices.Contains(todo, "..") {
				return "does not resolve, and climbs with ..", nil
			}
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, elem)
			continue
		}
		if hops++; hops > MaxSymlinkHops {
			return fmt.Sprintf("resolves through a chain of more than %d symbolic links", MaxSymlinkHops), nil
		}
		target, err := x.root.Readlink(p)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			return "resolves through an absolute link", nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return "", nil
}

// isGzip reports whether the stream starts with gzip's magic number.
func isGzip(br *bufio.Reader) bool {
	magic, _ := br.Peek(2)
	return len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// gzipStream decompresses a gzip stream as gzip(1) does: members one after
// another, then optionally zero bytes up to the end (what a tape or a
// block device pads with; gzip and GNU tar accept it). Anything else after
// the last member is an error. The padding is bounded by maxPadding.
type gzipStream struct {
	raw        *bufio.Reader
	zr         *gzip.Reader
	maxPadding int64
	done       bool
}

func (g *gzipStream) Read(p []byte) (int, error) {
	for !g.done {
		n, err := g.zr.Read(p)
		if err != io.EOF {
			return n, err
		}
		// One member ended (its checksum verified).
		if isGzip(g.raw) {
			if err := g.zr.Reset(g.raw); err != nil {
				return n, fmt.Errorf("read gzip member header: %w", err)
			}
			g.zr.Multistream(false)
		} else {
			if err := g.zeroPadding(); err != nil {
				return n, err
			}
			g.done = true
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, io.EOF
}

// zeroPadding reads the rest of the raw stream, which must be zeros.
func (g *gzipStream) zeroPadding() error {
	var read int64
	for {
		b, err := g.raw.Peek(g.raw.Size())
		for _, c := range b {
			if c != 0 {
				return errors.New("read gzip stream: data after the last member")
			}
		}
		read += int64(len(b))
		if read > g.maxPadding {
			return fmt.Errorf("%w: more than %d bytes of padding after the gzip stream", ErrLimitExceeded, g.maxPadding)
		}
		if _, derr := g.raw.Discard(len(b)); derr != nil {
			return derr
		}
		if err == io.EOF || (err == nil && len(b) == 0) {
			return nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("read gzip stream: %w", err)
		}
	}
}

// cleanName validates an entry name (or hard link target) and returns it
// cleaned, or "." for the root itself.
func (x *extractor) cleanName(name string) (string, error) {
	if len(name) > x.maxPath {
		return "", fmt.Errorf("entry %.64q…: %w: name longer than %d bytes", name, ErrLimitExceeded, x.maxPath)
	}
	if name == "" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("entry %q: %w", name, ErrUnsafePath)
	}
	clean := path.Clean(name)
	if clean == "." {
		return ".", nil
	}
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("entry %q: %w", name, ErrUnsafePath)
	}
	return clean, nil
}

func (x *extractor) entry(tr *tar.Reader, h *tar.Header) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := x.cleanName(h.Name)
	if err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return x.mkdirAll(name)
	case tar.TypeReg, tar.TypeRegA:
		if name == "." {
			return fmt.Errorf("entry %q: %w", h.Name, ErrUnsafePath)
		}
		return x.file(tr, h, name)
	case tar.TypeSymlink:
		if name == "." {
			return fmt.Errorf("entry %q: %w", h.Name, ErrUnsafePath)
		}
		if reason := x.symlinkProblem(name, h.Linkname); reason != "" {
			if x.skip {
				x.skipped = append(x.skipped, name)
				return nil
			}
			return fmt.Errorf("entry %q: %w: %s", name, ErrUnsafeLink, reason)
		}
		if err := x.mkdirAll(path.Dir(name)); err != nil {
			return err
		}
		if err := x.replace(name); err != nil {
			return err
		}
		h.Name = name
		x.pending[name] = len(x.links)
		x.links = append(x.links, h)
		return nil
	case tar.TypeLink:
		return x.hardlink(h, name)
	default:
		return fmt.Errorf("entry %q: %w %q", name, ErrUnsupportedEntry, h.Typeflag)
	}
}

func (x *extractor) symlinkProblem(name, target string) string {
	switch {
	case target == "":
		return "empty target"
	case len(target) > x.maxPath:
		return fmt.Sprintf("target longer than %d bytes", x.maxPath)
	case strings.HasPrefix(target, "/") || strings.ContainsAny(target, "\\\x00"):
		return fmt.Sprintf("absolute target %q", target)
	case !filepath.IsLocal(path.Join(path.Dir(name), target)):
		return fmt.Sprintf("target %q leaves the destination", target)
	}
	return ""
}

// replace makes room for an entry named name that repeats an earlier
// file or symbolic link: the later one wins, as in GNU tar. A directory is
// never replaced (its content would be lost or end up under the new entry).
func (x *extractor) replace(name string) error {
	switch {
	case x.dirs[name]:
		return fmt.Errorf("entry %q: %w: a directory of that name is in the archive already", name, ErrUnsafePath)
	case x.files[name]:
		if err := x.root.Remove(name); err != nil {
			return fmt.Errorf("entry %q: replacing the earlier entry: %w", name, err)
		}
		delete(x.files, name)
	}
	if i, ok := x.pending[name]; ok {
		x.links[i] = nil
		delete(x.pending, name)
	}
	return nil
}

func (x *extractor) mkdirAll(name string) error {
	if x.dirs[name] {
		return nil
	}
	// Nothing is written through a symbolic link of the archive, nor is a
	// file turned into a directory.
	for d := name; d != "."; d = path.Dir(d) {
		if x.dirs[d] {
			break
		}
		if _, ok := x.pending[d]; ok {
			return fmt.Errorf("entry %q: %w: inside the symbolic link %q of the archive", name, ErrUnsafeLink, d)
		}
		if x.files[d] {
			return fmt.Errorf("entry %q: %w: %q is a file of the archive", name, ErrUnsafePath, d)
		}
	}
	if err := x.root.MkdirAll(name, 0o755); err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	for d := name; d != "." && !x.dirs[d]; d = path.Dir(d) {
		x.dirs[d] = true
	}
	return nil
}

func (x *extractor) file(tr *tar.Reader, h *tar.Header, name string) error {
	if h.Size > x.maxFile {
		return fmt.Errorf("entry %q: %w: %d bytes, more than %d", name, ErrLimitExceeded, h.Size, x.maxFile)
	}
	// Sparse entries expand holes that were never in the stream, so the
	// bytes written are bounded as well as the bytes read.
	if h.Size > x.maxBytes-x.written {
		return fmt.Errorf("entry %q: %w: more than %d bytes in total", name, ErrLimitExceeded, x.maxBytes)
	}
	if err := x.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	if err := x.replace(name); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if h.Mode&0o111 != 0 {
		mode = 0o755
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	var src io.Reader = tr
	if x.maxFile < math.MaxInt64 {
		// One byte more than allowed tells a too-long entry from one that
		// fits; without a limit there is nothing to tell (and +1 would
		// overflow into a reader that returns nothing at all).
		src = io.LimitReader(tr, x.maxFile+1)
	}
	n, err := io.CopyBuffer(onlyWriter{f}, src, x.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	if n > x.maxFile {
		return fmt.Errorf("entry %q: %w: more than %d bytes", name, ErrLimitExceeded, x.maxFile)
	}
	x.written += n
	x.files[name] = true
	return nil
}

// onlyWriter hides ReadFrom so CopyBuffer uses the bounded buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

func (x *extractor) hardlink(h *tar.Header, name string) error {
	fail := func(reason string) error {
		if x.skip {
			x.skipped = append(x.skipped, name)
			return nil
		}
		return fmt.Errorf("entry %q: %w: %s", name, ErrUnsafeLink, reason)
	}
	if name == "." {
		return fmt.Errorf("entry %q: %w", h.Name, ErrUnsafePath)
	}
	if len(h.Linkname) > x.maxPath {
		return fail(fmt.Sprintf("target longer than %d bytes", x.maxPath))
	}
	target, err := x.cleanName(h.Linkname)
	if err != nil || !x.files[target] {
		return fail(fmt.Sprintf("target %q is not a file extracted earlier", h.Linkname))
	}
	if err := x.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	if name == target {
		return nil // a link to itself leaves the file as it is
	}
	if err := x.replace(name); err != nil {
		return err
	}
	if err := x.root.Link(target, name); err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	x.files[name] = true
	return nil
}

func (x *extractor) symlink(h *tar.Header) error {
	if err := x.root.Symlink(h.Linkname, h.Name); err != nil {
		return fmt.Errorf("entry %q: %w", h.Name, err)
	}
	return nil
}
