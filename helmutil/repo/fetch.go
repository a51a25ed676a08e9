package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/artifact"
)

// FetchResult describes a downloaded file.
type FetchResult struct {
	// URL is the URL fetched, without user info nor query.
	URL string
	// Digest is the SHA-256 of the bytes, sha256:<hex>: the revision of an
	// index artifact.
	Digest artifact.Digest
	// Size is the number of bytes.
	Size int64
}

// get issues a GET and returns the response body, bounded by limit, when
// the status is 200.
func (r *Repository) get(ctx context.Context, rawURL string, limit int64) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w: does not parse", redact(rawURL), ErrInvalidURL)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, r.wrapErr("get", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &StatusError{URL: redact(rawURL), StatusCode: resp.StatusCode}
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, fmt.Errorf("get %s: %w: %d bytes, limit %d", redact(rawURL), ErrLimitExceeded, resp.ContentLength, limit)
	}
	return &boundedBody{rc: resp.Body, max: limit, url: redact(rawURL)}, nil
}

// boundedBody fails a read past max bytes.
type boundedBody struct {
	rc  io.ReadCloser
	n   int64
	max int64
	url string
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.n >= b.max {
		var one [1]byte
		if n, _ := io.ReadFull(b.rc, one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("get %s: %w: more than %d bytes", b.url, ErrLimitExceeded, b.max)
	}
	if rem := b.max - b.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

func (r *Repository) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout > 0 {
		return context.WithTimeout(ctx, r.timeout)
	}
	return context.WithCancel(ctx)
}

// FetchIndex downloads the repository's index.yaml into w as is, bounded
// by WithMaxIndexSize and WithTimeout, and returns its digest and size.
// A source controller stores these bytes as the repository's artifact
// (revision: the digest) and parses them later with LoadIndexFile.
func (r *Repository) FetchIndex(ctx context.Context, w io.Writer) (FetchResult, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	u := r.IndexURL()
	body, err := r.get(ctx, u, r.maxIndex)
	if err != nil {
		return FetchResult{}, err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), body)
	if err != nil {
		return FetchResult{}, r.wrapErr("read", u, err)
	}
	res := FetchResult{URL: redact(u), Digest: artifact.NewDigest(artifact.SHA256, h), Size: n}
	logr.FromContextOrDiscard(ctx).V(1).Info("fetched index", "url", res.URL, "digest", res.Digest, "size", n)
	return res, nil
}

// FetchIndexFile downloads the index to the file dst, atomically: through
// a temporary file next to dst, renamed into place only when the download
// is complete. On error dst is untouched and no temporary file is left.
func (r *Repository) FetchIndexFile(ctx context.Context, dst string) (FetchResult, error) {
	var res FetchResult
	err := writeAtomic(dst, func(w io.Writer) error {
		var err error
		res, err = r.FetchIndex(ctx, w)
		return err
	})
	return res, err
}

// LoadIndex downloads the index and parses it as it streams in, without
// storing it (the dependency builder's way). o bounds the parse; the
// download is bounded by WithMaxIndexSize.
func (r *Repository) LoadIndex(ctx context.Context, o ParseOptions) (*Index, FetchResult, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	u := r.IndexURL()
	body, err := r.get(ctx, u, r.maxIndex)
	if err != nil {
		return nil, FetchResult{}, err
	}
	defer body.Close()
	h := sha256.New()
	cr := &countWriter{}
	idx, err := ParseIndex(ctx, io.TeeReader(body, io.MultiWriter(h, cr)), o)
	if err != nil {
		return nil, FetchResult{}, r.wrapErr("index", u, err)
	}
	// Hash what the parser left unread (trailing documents) so the digest
	// is the file's.
	if _, err := io.Copy(io.MultiWriter(h, cr), body); err != nil {
		return nil, FetchResult{}, r.wrapErr("read", u, err)
	}
	return idx, FetchResult{URL: redact(u), Digest: artifact.NewDigest(artifact.SHA256, h), Size: cr.n}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// DownloadOptions are the per-call knobs of DownloadChart. The zero value
// checks the index digest and no provenance.
type DownloadOptions struct {
	// Keyring, when set, requires the package's provenance file
	// (<url>.prov) signed by a key of this OpenPGP keyring (armored or
	// binary, as `gpg --export` writes it) and naming the package's
	// SHA-256, as `helm pull --verify` does.
	Keyring []byte
}

// DownloadResult describes a downloaded chart package.
type DownloadResult struct {
	FetchResult
	// Verified describes the provenance signature, when
	// DownloadOptions.Keyring was set.
	Verified *Signature
}

// DownloadChart downloads the package of cv to the file dst, atomically
// (through a temporary file next to dst renamed into place only once
// everything checked out). See FetchChart for the checks.
func (r *Repository) DownloadChart(ctx context.Context, cv ChartVersion, dst string, o DownloadOptions) (*DownloadResult, error) {
	var res *DownloadResult
	err := writeAtomic(dst, func(w io.Writer) error {
		var err error
		res, err = r.FetchChart(ctx, cv, w, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// FetchChart streams the package of cv into w. The package must match the
// entry's digest when the index gives one (and its provenance when
// o.Keyring is set), bounded by WithMaxChartSize and WithTimeout; on error
// what was written to w must be discarded. Credentials go with the request
// only to the repository's host unless WithPassCredentials.
func (r *Repository) FetchChart(ctx context.Context, cv ChartVersion, w io.Writer, o DownloadOptions) (*DownloadResult, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	u, err := r.ChartURL(cv)
	if err != nil {
		return nil, err
	}
	var want string
	if cv.Digest != "" {
		want = strings.ToLower(strings.TrimPrefix(cv.Digest, "sha256:"))
	}
	body, err := r.get(ctx, u, r.maxChart)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), body)
	if err != nil {
		return nil, r.wrapErr("read", u, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return nil, fmt.Errorf("chart %s %s from %s: %w: index says sha256:%s, package is sha256:%s",
			cv.Name, cv.Version, redact(u), ErrDigestMismatch, want, sum)
	}
	res := &DownloadResult{FetchResult: FetchResult{URL: redact(u), Digest: artifact.Digest("sha256:" + sum), Size: n}}
	if o.Keyring != nil {
		prov, err := r.fetchSmall(ctx, provURL(u), MaxProvenanceBytes)
		if err != nil {
			return nil, &ProvenanceError{Chart: packageName(u), Reason: "no provenance file", Err: err}
		}
		sig, err := verifyProvenance(sum, packageName(u), prov, o.Keyring)
		if err != nil {
			return nil, err
		}
		res.Verified = sig
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("downloaded chart", "chart", cv.Name, "version", cv.Version, "url", res.URL, "digest", res.Digest)
	return res, nil
}

// MaxChartSize returns the repository's chart download limit.
func (r *Repository) MaxChartSize() int64 { return r.maxChart }

// provURL returns the URL of the provenance file of the package at u: its
// path with .prov appended, its query kept.
func provURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i] + ".prov" + u[i:]
	}
	return u + ".prov"
}

func (r *Repository) fetchSmall(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	body, err := r.get(ctx, rawURL, limit)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, r.wrapErr("read", rawURL, err)
	}
	return b, nil
}

// packageName is the file name of the package at u, the name its
// provenance file lists.
func packageName(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return path.Base(u)
}

// writeAtomic runs write into a temporary file next to dst and renames it
// to dst when write succeeded; otherwise the temporary file is removed and
// dst is untouched.
func writeAtomic(dst string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}
