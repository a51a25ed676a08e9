package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/untar"
)

// Defaults of the Fetcher's options.
const (
	DefaultMaxDownloadSize int64 = 256 << 20
	DefaultRetries               = 4
	DefaultMinBackoff            = 200 * time.Millisecond
	DefaultMaxBackoff            = 10 * time.Second
	DefaultTimeout               = 5 * time.Minute
)

var (
	// ErrNotFound is returned when the server answers 404.
	ErrNotFound = errors.New("artifact not found")
	// ErrTooLarge is returned when a download exceeds the maximum size.
	ErrTooLarge = errors.New("artifact too large")
)

// HTTPError is an unexpected HTTP status. It matches [ErrNotFound] with
// errors.Is when the status is 404.
type HTTPError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// URL is the requested URL with credentials masked.
	URL string
	// RetryAfter is the server's Retry-After, zero if absent.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// Is reports whether target is ErrNotFound and the status 404.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// Fetcher downloads artifacts. It is safe for concurrent use.
type Fetcher struct {
	client       *http.Client
	retries      int
	minBackoff   time.Duration
	maxBackoff   time.Duration
	maxSize      int64
	hostOverride string
	untar        untar.Options
}

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithHTTPClient sets the HTTP client. The default has a 5-minute overall
// timeout and the default transport.
func WithHTTPClient(c *http.Client) Option { return func(f *Fetcher) { f.client = c } }

// WithRetries sets how many times a transient failure is retried (0: never).
func WithRetries(n int) Option { return func(f *Fetcher) { f.retries = max(n, 0) } }

// WithBackoff sets the first and the largest wait between attempts.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(f *Fetcher) { f.minBackoff, f.maxBackoff = minWait, max(minWait, maxWait) }
}

// WithMaxDownloadSize bounds a download, in bytes.
func WithMaxDownloadSize(n int64) Option { return func(f *Fetcher) { f.maxSize = n } }

// WithHostOverride replaces the host (and port) of every artifact URL with
// host, e.g. "localhost:9090" to reach a source controller through
// `kubectl port-forward`.
func WithHostOverride(host string) Option { return func(f *Fetcher) { f.hostOverride = host } }

// WithUntarOptions sets the limits applied by [Fetcher.Fetch] when unpacking.
func WithUntarOptions(o untar.Options) Option { return func(f *Fetcher) { f.untar = o } }

// New returns a Fetcher.
func New(opts ...Option) *Fetcher {
	f := &Fetcher{
		client:     &http.Client{Timeout: DefaultTimeout},
		retries:    DefaultRetries,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
		maxSize:    DefaultMaxDownloadSize,
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Download fetches a.URL into file, verifying it against a.Digest, and
// replaces file atomically once verified.
func (f *Fetcher) Download(ctx context.Context, a artifact.Artifact, file string) error {
	tmp, err := f.download(ctx, a, file)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

// Fetch fetches a.URL, verifies it against a.Digest and unpacks the verified
// tarball into dir with the untar limits (see package untar: dir must not
// exist or be empty, and is left untouched on failure).
func (f *Fetcher) Fetch(ctx context.Context, a artifact.Artifact, dir string) (untar.Result, error) {
	// Fail before downloading when unpacking could not succeed anyway.
	if err := checkEmpty(dir); err != nil {
		return untar.Result{}, fmt.Errorf("fetch %s: %w", maskURL(a.URL), err)
	}
	tmp, err := f.download(ctx, a, dir)
	if err != nil {
		return untar.Result{}, err
	}
	defer os.Remove(tmp)
	file, err := os.Open(tmp)
	if err != nil {
		return untar.Result{}, fmt.Errorf("fetch: %w", err)
	}
	defer file.Close()
	res, err := untar.Extract(ctx, file, dir, f.untar)
	if err != nil {
		return res, fmt.Errorf("fetch %s: %w", maskURL(a.URL), err)
	}
	if len(res.Skipped) > 0 {
		logr.FromContextOrDiscard(ctx).Info("links left out when unpacking", "url", maskURL(a.URL), "skipped", res.Skipped)
	}
	return res, nil
}

// checkEmpty reports untar.ErrDestinationNotEmpty when dir exists and is
// not an empty directory. Extract checks again, atomically, at the end.
func checkEmpty(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %w", dir, untar.ErrDestinationNotEmpty)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); err == nil {
		return fmt.Errorf("%s: %w", dir, untar.ErrDestinationNotEmpty)
	}
	return nil
}

// download writes the verified artifact into a temporary file next to dst
// and returns its name.
func (f *Fetcher) download(ctx context.Context, a artifact.Artifact, dst string) (string, error) {
	if err := a.Digest.Validate(); err != nil {
		return "", fmt.Errorf("fetch %s: %w", maskURL(a.URL), err)
	}
	u, err := url.Parse(a.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("fetch %s: invalid artifact URL", maskURL(a.URL))
	}
	if f.hostOverride != "" {
		u.Host = f.hostOverride
	}
	shown := maskURL(u.String())
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".download-*")
	if err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	ok := false
	defer func() {
		tmp.Close()
		if !ok {
			os.Remove(tmp.Name())
		}
	}()
	log := logr.FromContextOrDiscard(ctx)
	for attempt := 0; ; attempt++ {
		err = f.attempt(ctx, u, shown, a.Digest, tmp)
		if err == nil {
			break
		}
		if attempt >= f.retries || !transient(err) || ctx.Err() != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return "", fmt.Errorf("fetch %s: %w", shown, err)
		}
		wait := f.backoff(attempt, err)
		log.V(1).Info("retrying artifact download", "url", shown, "attempt", attempt+1, "wait", wait, "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("fetch %s: %w", shown, ctx.Err())
		case <-t.C:
		}
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	ok = true
	return tmp.Name(), nil
}

func (f *Fetcher) attempt(ctx context.Context, u *url.URL, shown string, want artifact.Digest, tmp *os.File) error {
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := tmp.Truncate(0); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return errors.New("cannot build request")
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the unmasked URL
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection reusable
		return &HTTPError{StatusCode: resp.StatusCode, URL: shown, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	if resp.ContentLength > f.maxSize {
		return fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, resp.ContentLength, f.maxSize)
	}
	h := want.Algorithm().New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, f.maxSize+1))
	if err != nil {
		return err
	}
	if n > f.maxSize {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, f.maxSize)
	}
	if got := artifact.NewDigest(want.Algorithm(), h); got != want {
		return &artifact.DigestMismatchError{Expected: want, Actual: got}
	}
	return nil
}

func transient(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		switch he.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (f *Fetcher) backoff(attempt int, err error) time.Duration {
	d := f.minBackoff << min(attempt, 30)
	if d <= 0 || d > f.maxBackoff {
		d = f.maxBackoff
	}
	// Equal jitter: half fixed, half random, so retries spread out but
	// still back off.
	if half := d / 2; half > 0 {
		d = half + rand.N(half)
	}
	var he *HTTPError
	if errors.As(err, &he) && he.RetryAfter > d {
		d = min(he.RetryAfter, f.maxBackoff)
	}
	return d
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// maskURL removes user information, the query string and the fragment
// from a URL for display. An opaque URL (http:user:pw@host/x, which
// url.Parse does not split) shows only its scheme.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	if u.Opaque != "" {
		return u.Scheme + ":xxxxx"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "xxxxx"
	}
	u.Fragment = ""
	return u.String()
}
