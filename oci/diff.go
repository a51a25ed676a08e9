package oci

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/untar"
)

// DiffOptions are the per-call knobs of Diff.
type DiffOptions struct {
	// LayerMediaType selects the remote layer, as in PullOptions.
	LayerMediaType string
	// Archive holds the ignore rules applied to the local directory; use
	// the same as when pushing.
	Archive archive.Options
	// Limits bound the remote layer's content (bytes, entries, path
	// length), as untar.Options do; zero values are untar's defaults.
	Limits untar.Options
}

// DiffResult compares a local directory with a remote artifact.
type DiffResult struct {
	// Equal is true when the files (names, contents, executable bits and
	// link targets) are the same, whether or not the archives' bytes are.
	Equal bool
	// LocalDigest is the digest of the local directory archived
	// reproducibly; RemoteDigest the remote layer's. Equal digests imply
	// Equal; different digests may still hold the same files (another
	// tool's archive).
	LocalDigest, RemoteDigest string
	// Added lists files only in the local directory, Removed files only in
	// the artifact, Modified files in both that differ. Sorted.
	Added, Removed, Modified []string
}

// Diff compares dir with the artifact at ref. The local directory is
// archived reproducibly (in memory-bounded streaming, nothing written to
// disk); when its digest equals the remote layer's, no layer is
// downloaded. Otherwise the remote layer is streamed, verified and
// compared file by file.
func (c *Client) Diff(ctx context.Context, ref, dir string, o DiffOptions) (*DiffResult, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, _, m, err := c.fetchManifest(ctx, ref, "", "")
	if err != nil {
		return nil, err
	}
	layer, err := selectLayer(m, o.LayerMediaType)
	if err != nil {
		return nil, err
	}
	limits := newTreeLimits(o.Limits)

	pr, pw := io.Pipe()
	type built struct {
		res archive.Result
		err error
	}
	done := make(chan built, 1)
	go func() {
		res, err := archive.Build(ctx, pw, dir, o.Archive)
		pw.CloseWithError(err)
		done <- built{res, err}
	}()
	local, lerr := readTree(pr, limits)
	pr.CloseWithError(errors.New("diff: stopped reading"))
	b := <-done
	if b.err != nil {
		return nil, fmt.Errorf("diff: archive %s: %w", dir, b.err)
	}
	if lerr != nil {
		return nil, fmt.Errorf("diff: read local archive: %w", lerr)
	}
	res := &DiffResult{LocalDigest: b.res.Digest.String(), RemoteDigest: layer.Digest.String()}
	if res.LocalDigest == res.RemoteDigest {
		res.Equal = true
		return res, nil
	}
	rc, err := c.openBlob(ctx, r.Context(), layer)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	remote, err := readTree(rc, limits)
	if err != nil {
		return nil, c.wrap("diff: read remote layer", err)
	}
	for p, sum := range local {
		rs, ok := remote[p]
		switch {
		case !ok:
			res.Added = append(res.Added, p)
		case rs != sum:
			res.Modified = append(res.Modified, p)
		}
	}
	for p := range remote {
		if _, ok := local[p]; !ok {
			res.Removed = append(res.Removed, p)
		}
	}
	sort.Strings(res.Added)
	sort.Strings(res.Removed)
	sort.Strings(res.Modified)
	res.Equal = len(res.Added)+len(res.Removed)+len(res.Modified) == 0
	return res, nil
}

type treeLimits struct {
	bytes   int64
	entries int
	path    int
}

func newTreeLimits(o untar.Options) treeLimits {
	l := treeLimits{bytes: o.MaxBytes, entries: o.MaxEntries, path: o.MaxPathLength}
	if l.bytes == 0 {
		l.bytes = untar.DefaultMaxBytes
	}
	if l.entries == 0 {
		l.entries = untar.DefaultMaxEntries
	}
	if l.path == 0 {
		l.path = untar.DefaultMaxPathLength
	}
	return l
}

// readTree reads a tar or tar.gz stream to its end and returns, for each
// file and symbolic link, a summary of its content. Directories are left
// out (they follow from the files).
func readTree(r io.Reader, lim treeLimits) (map[string]string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var stream io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		stream = zr
	}
	lr := &limitReader{r: stream, left: lim.bytes}
	tr := tar.NewReader(lr)
	out := map[string]string{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if lim.entries > 0 && n >= lim.entries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrTooLarge, lim.entries)
		}
		if lim.path > 0 && len(h.Name) > lim.path {
			return nil, fmt.Errorf("%w: entry name longer than %d bytes", ErrTooLarge, lim.path)
		}
		p := path.Clean(strings.TrimPrefix(h.Name, "./"))
		switch h.Typeflag {
		case tar.TypeReg:
			hs := sha256.New()
			if _, err := io.Copy(hs, tr); err != nil {
				return nil, err
			}
			kind := "f"
			if h.Mode&0o111 != 0 {
				kind = "x"
			}
			out[p] = kind + ":" + hex.EncodeToString(hs.Sum(nil))
		case tar.TypeSymlink:
			out[p] = "l:" + h.Linkname
		case tar.TypeLink:
			out[p] = "h:" + path.Clean(h.Linkname)
		}
	}
	// Drain: the gzip checksum and the layer digest are checked at the end.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, err
	}
	return out, nil
}

type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(l.r, one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("%w: uncompressed content over the limit", ErrTooLarge)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
