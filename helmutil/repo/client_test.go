package repo_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	repov1 "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/repo"
)

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// chartRepo serves a repository with app 1.0.0, 1.1.0 and 2.0.0-rc.1.
func chartRepo(t *testing.T, opts ...helmtest.Option) *helmtest.Server {
	t.Helper()
	srv := helmtest.NewServer(t, t.TempDir(), opts...)
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: v}))
	}
	return srv
}

// assertEmptyDir fails unless dir holds nothing (no temporary file left).
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
	}
}

func TestFetchParseSelectDownloadOverMTLSWithBasicAuth(t *testing.T) {
	srv := chartRepo(t, helmtest.WithClientCertificates(), helmtest.WithBasicAuth("user", "s3cret"))
	r, err := repo.New(srv.URL(), repo.WithBasicAuth("user", "s3cret"), repo.WithTLSConfig(srv.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	// The controller's way: store the index as is, parse it later.
	dir := t.TempDir()
	res, err := r.FetchIndexFile(ctx(t), filepath.Join(dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := artifact.FromFile(filepath.Join(srv.Dir(), "index.yaml"), artifact.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want || res.URL != srv.URL()+"/index.yaml" {
		t.Fatalf("fetch result %+v, want digest %s", res, want)
	}
	idx, err := repo.LoadIndexFile(ctx(t), filepath.Join(dir, "index.yaml"), repo.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cv, err := idx.Get("app", "")
	if err != nil || cv.Version != "1.1.0" {
		t.Fatalf("latest stable: %+v %v", cv, err)
	}
	dst := filepath.Join(dir, "app.tgz")
	dl, err := r.DownloadChart(ctx(t), cv, dst, repo.DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pkg, _ := os.ReadFile(filepath.Join(srv.Dir(), "app-1.1.0.tgz"))
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(pkg, got) || dl.Size != int64(len(pkg)) || dl.Digest != artifact.Digest("sha256:"+cv.Digest) {
		t.Fatalf("download %+v", dl)
	}
	// The dependency builder's way: parse as it streams.
	idx2, res2, err := r.LoadIndex(ctx(t), repo.ParseOptions{})
	if err != nil || res2.Digest != want || idx2.Len() != 3 {
		t.Fatalf("load index: %v %+v", err, res2)
	}
	if cv, err := idx2.Get("app", ">=2.0.0-0"); err != nil || cv.Version != "2.0.0-rc.1" {
		t.Fatalf("prerelease when asked: %+v %v", cv, err)
	}

	// Without the client certificate the handshake fails; without the
	// password the server says 401.
	noCert := srv.TLSConfig()
	noCert.Certificates = nil
	r2, _ := repo.New(srv.URL(), repo.WithBasicAuth("user", "s3cret"), repo.WithTLSConfig(noCert))
	if _, err := r2.FetchIndex(ctx(t), &bytes.Buffer{}); err == nil {
		t.Fatal("fetched without a client certificate")
	}
	r3, _ := repo.New(srv.URL(), repo.WithTLSConfig(srv.TLSConfig()))
	_, err = r3.FetchIndex(ctx(t), &bytes.Buffer{})
	var se *repo.StatusError
	if !errors.Is(err, repo.ErrUnauthorized) || !errors.As(err, &se) || se.StatusCode != 401 {
		t.Fatalf("without credentials: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	srv := chartRepo(t, helmtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok-123" {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	r, _ := repo.New(srv.URL(), repo.WithBearerToken("tok-123"))
	if _, err := r.FetchIndex(ctx(t), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.New(srv.URL(), repo.WithBearerToken("x"), repo.WithBasicAuth("u", "p")); err == nil {
		t.Fatal("both kinds of credentials accepted")
	}
}

// echoServer answers every request with 401 and the request's headers and
// URL in its body and in a header, and records them: the attacker's
// server that hopes to see credentials come back in an error.
func echoServer(t *testing.T) (*httptest.Server, *[]http.Header) {
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Clone())
		msg := fmt.Sprintf("you sent %q to %s", r.Header.Get("Authorization"), r.URL.String())
		w.Header().Set("X-Echo", msg)
		http.Error(w, msg, http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestCredentialsGoOnlyToTheRepositoryHost(t *testing.T) {
	const user, pass, token = "user", "pa55word", "t0ken-secret"
	other, seen := echoServer(t)
	dir := t.TempDir()
	// The repository's index points at a package on another host, and
	// redirects /moved.tgz to that host with the credentials in the query.
	srv := helmtest.NewServer(t, dir, helmtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved.tgz" {
				auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
				http.Redirect(w, r, other.URL+"/app.tgz?leak="+auth+"&p="+pass+"&t="+token, http.StatusFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	for name, o := range map[string][]repo.Option{
		"basic":  {repo.WithBasicAuth(user, pass)},
		"bearer": {repo.WithBearerToken(token)},
	} {
		t.Run(name, func(t *testing.T) {
			*seen = nil
			for _, c := range []repo.ChartVersion{
				{Name: "app", Version: "1.0.0", URLs: []string{other.URL + "/app-1.0.0.tgz"}},
				{Name: "app", Version: "1.0.0", URLs: []string{"moved.tgz"}},
			} {
				r, _ := repo.New(srv.URL(), o...)
				dst := filepath.Join(dir, "out", "app.tgz")
				os.MkdirAll(filepath.Dir(dst), 0o755)
				_, err := r.DownloadChart(ctx(t), c, dst, repo.DownloadOptions{})
				if !errors.Is(err, repo.ErrUnauthorized) {
					t.Fatalf("%s: %v", c.URLs[0], err)
				}
				for _, secret := range []string{pass, token, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error quotes a credential: %v", err)
					}
				}
				assertEmptyDir(t, filepath.Dir(dst))
			}
			for _, h := range *seen {
				if h.Get("Authorization") != "" {
					t.Fatalf("credentials sent to another host: %v", h)
				}
			}
			if len(*seen) != 2 {
				t.Fatalf("other host saw %d requests", len(*seen))
			}
			// With passCredentials they go there too (and the error still
			// does not quote them).
			*seen = nil
			r, _ := repo.New(srv.URL(), append(o, repo.WithPassCredentials(true))...)
			_, err := r.DownloadChart(ctx(t), repo.ChartVersion{Name: "app", URLs: []string{"moved.tgz"}}, filepath.Join(dir, "x.tgz"), repo.DownloadOptions{})
			if err == nil || strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), token) {
				t.Fatalf("passCredentials: %v", err)
			}
			if len(*seen) != 1 || (*seen)[0].Get("Authorization") == "" {
				t.Fatalf("passCredentials did not pass them: %v", *seen)
			}
		})
	}
	// The repository host itself gets them, on every request.
	for _, rq := range srv.Requests() {
		if rq.Header.Get("Authorization") == "" {
			t.Fatalf("request to the repository without credentials: %+v", rq)
		}
	}
	if _, err := repo.New("https://user:pass@example.com/charts"); !errors.Is(err, repo.ErrInvalidURL) || strings.Contains(err.Error(), "pass") {
		t.Fatalf("credentials in the url: %v", err)
	}
}

func TestLimitsTimeoutsAndTamperingLeaveNothing(t *testing.T) {
	// Nothing goes to the temporary directory of the process, whatever fails.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	big := bytes.Repeat([]byte("x"), 1<<20)
	srv := chartRepo(t, helmtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/big.tgz": // no Content-Length: the limit is hit while reading
				w.(http.Flusher).Flush()
				w.Write(big)
			case "/slow.tgz":
				w.Write([]byte("partial"))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			default:
				next.ServeHTTP(w, r)
			}
		})
	}))
	out := t.TempDir()
	dst := filepath.Join(out, "chart.tgz")
	idx, _, err := mustRepo(t, srv.URL()).LoadIndex(ctx(t), repo.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := idx.Get("app", "1.0.0")
	tampered := good
	tampered.Digest = strings.Repeat("0", 64)
	for name, c := range map[string]struct {
		r    *repo.Repository
		cv   repo.ChartVersion
		want error
	}{
		"chart over the limit (content-length)": {mustRepo(t, srv.URL(), repo.WithMaxChartSize(100)), good, repo.ErrLimitExceeded},
		"chart over the limit (streamed)":       {mustRepo(t, srv.URL(), repo.WithMaxChartSize(1000)), repo.ChartVersion{Name: "app", URLs: []string{"big.tgz"}}, repo.ErrLimitExceeded},
		"digest mismatch":                       {mustRepo(t, srv.URL()), tampered, repo.ErrDigestMismatch},
		"timeout":                               {mustRepo(t, srv.URL(), repo.WithTimeout(200*time.Millisecond)), repo.ChartVersion{Name: "app", URLs: []string{"slow.tgz"}}, context.DeadlineExceeded},
		"not found":                             {mustRepo(t, srv.URL()), repo.ChartVersion{Name: "app", URLs: []string{"nope.tgz"}}, repo.ErrNotFound},
		"no url":                                {mustRepo(t, srv.URL()), repo.ChartVersion{Name: "app"}, repo.ErrNoURL},
		"bad scheme":                            {mustRepo(t, srv.URL()), repo.ChartVersion{Name: "app", URLs: []string{"file:///etc/passwd"}}, repo.ErrInvalidURL},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.r.DownloadChart(ctx(t), c.cv, dst, repo.DownloadOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			assertEmptyDir(t, out)
		})
	}
	if _, err := mustRepo(t, srv.URL(), repo.WithMaxIndexSize(100)).FetchIndexFile(ctx(t), filepath.Join(out, "index.yaml")); !errors.Is(err, repo.ErrLimitExceeded) {
		t.Fatalf("index over the limit: %v", err)
	}
	if _, _, err := mustRepo(t, srv.URL(), repo.WithMaxIndexSize(100)).LoadIndex(ctx(t), repo.ParseOptions{}); !errors.Is(err, repo.ErrLimitExceeded) {
		t.Fatalf("streamed index over the limit: %v", err)
	}
	if _, _, err := mustRepo(t, srv.URL()).LoadIndex(ctx(t), repo.ParseOptions{MaxVersions: 1}); !errors.Is(err, repo.ErrLimitExceeded) {
		t.Fatalf("index over the version limit: %v", err)
	}
	assertEmptyDir(t, out)
	assertEmptyDir(t, tmp)
}

func mustRepo(t *testing.T, u string, opts ...repo.Option) *repo.Repository {
	t.Helper()
	r, err := repo.New(u, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestProvenance(t *testing.T) {
	signer := helmtest.NewSigner(t, "Chart Signer", "signer@example.com")
	other := helmtest.NewSigner(t, "Someone Else", "else@example.com")
	srv := helmtest.NewServer(t, t.TempDir())
	srv.AddSignedChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}), signer)
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "unsigned", Version: "1.0.0"}))
	// A provenance file signed for another package, served as app 2.0.0's.
	p2 := srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "2.0.0"}))
	prov1, _ := os.ReadFile(filepath.Join(srv.Dir(), "app-1.0.0.tgz.prov"))
	os.WriteFile(p2+".prov", prov1, 0o644)
	r := mustRepo(t, srv.URL())
	idx, _, err := r.LoadIndex(ctx(t), repo.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cv, _ := idx.Get("app", "1.0.0")
	res, err := r.DownloadChart(ctx(t), cv, filepath.Join(out, "ok.tgz"), repo.DownloadOptions{Keyring: signer.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified == nil || res.Verified.Fingerprint != signer.Fingerprint() || !strings.Contains(res.Verified.Identity, "signer@example.com") {
		t.Fatalf("verified %+v", res.Verified)
	}
	os.Remove(filepath.Join(out, "ok.tgz"))
	unsigned, _ := idx.Get("unsigned", "")
	v2, _ := idx.Get("app", "2.0.0")
	for name, c := range map[string]struct {
		cv   repo.ChartVersion
		ring []byte
	}{
		"another key":           {cv, other.Keyring()},
		"no provenance file":    {unsigned, signer.Keyring()},
		"provenance of another": {v2, signer.Keyring()},
		"garbage keyring":       {cv, []byte("not a keyring")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.DownloadChart(ctx(t), c.cv, filepath.Join(out, "x.tgz"), repo.DownloadOptions{Keyring: c.ring})
			var pe *repo.ProvenanceError
			if !errors.Is(err, repo.ErrProvenance) || !errors.As(err, &pe) {
				t.Fatalf("got %v", err)
			}
			assertEmptyDir(t, out)
		})
	}
	// Verified on its own, as for a chart from elsewhere.
	f, _ := os.Open(filepath.Join(srv.Dir(), "app-1.0.0.tgz"))
	defer f.Close()
	if _, err := repo.VerifyProvenance(f, "app-1.0.0.tgz", prov1, signer.Keyring()); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.VerifyProvenance(strings.NewReader("tampered"), "app-1.0.0.tgz", prov1, signer.Keyring()); !errors.Is(err, repo.ErrDigestMismatch) {
		t.Fatalf("tampered package: %v", err)
	}
}

// Chart URLs resolve as Helm resolves them.
func TestChartURLLikeHelm(t *testing.T) {
	for _, c := range []struct{ base, ref string }{
		{"https://example.com/charts", "app-1.0.0.tgz"},
		{"https://example.com/charts/", "app-1.0.0.tgz"},
		{"https://example.com", "app-1.0.0.tgz"},
		{"https://example.com/charts", "../other/app.tgz"},
		{"https://example.com/charts", "/abs/app.tgz"},
		{"https://example.com/charts?token=abc", "app-1.0.0.tgz"},
		{"https://example.com/a%2Fb/charts", "app.tgz"},
		{"https://example.com/charts", "https://cdn.example.com/app.tgz?sig=1"},
		{"http://example.com:8080/x/y/", "sub/app.tgz"},
	} {
		want, err := repov1.ResolveReferenceURL(c.base, c.ref)
		if err != nil {
			t.Fatal(err)
		}
		r := mustRepo(t, c.base)
		got, err := r.ChartURL(repo.ChartVersion{URLs: []string{c.ref}})
		if err != nil || got != want {
			t.Errorf("%s + %s: got %s (%v), helm %s", c.base, c.ref, got, err, want)
		}
	}
	if got := mustRepo(t, "https://example.com/charts?token=abc").IndexURL(); got != "https://example.com/charts/index.yaml?token=abc" {
		t.Errorf("index url %s", got)
	}
}
