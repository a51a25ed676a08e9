package gittest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	username, password string
	bearerToken        string
	tls                bool
	clientCerts        bool
	readOnly           bool
	ssh                bool
	wrap               func(http.Handler) http.Handler
}

// WithBasicAuth requires HTTP basic auth with these credentials.
func WithBasicAuth(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithBearerToken requires an "Authorization: Bearer <token>" header.
func WithBearerToken(token string) Option { return func(c *config) { c.bearerToken = token } }

// WithTLS serves HTTPS with a certificate issued by the server's own CA
// (see CA).
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithClientCertificates serves HTTPS and requires a client certificate
// issued by the server's CA (see ClientCertificate).
func WithClientCertificates() Option {
	return func(c *config) { c.tls, c.clientCerts = true, true }
}

// WithReadOnly refuses pushes.
func WithReadOnly() Option { return func(c *config) { c.readOnly = true } }

// WithSSH also serves the repositories over SSH with public-key auth; see
// SSHURL, KnownHosts and AuthorizeKey.
func WithSSH() Option { return func(c *config) { c.ssh = true } }

// WithMiddleware wraps the smart-HTTP handler (outside authentication),
// e.g. to fail, delay or cut responses and so test a client against a
// faulty server. It does not apply to SSH.
func WithMiddleware(wrap func(http.Handler) http.Handler) Option {
	return func(c *config) { c.wrap = wrap }
}

// Server is a git server for tests. Repositories are bare repositories in
// a temporary folder, served by the git programs themselves: git
// http-backend (through CGI) over smart HTTP and HTTPS and, with WithSSH,
// git-upload-pack and git-receive-pack over SSH.
type Server struct {
	tb      reporter
	cfg     config
	root    string
	git     string // the git program
	backend *cgi.Handler
	http    *httptest.Server
	pki     *pki
	ssh     *sshServer
	closed  atomic.Bool

	mu    sync.Mutex
	locks map[string]*sync.RWMutex

	closeOnce  sync.Once
	removeRoot bool // Start made root, so Close removes it
}

// reporter is what a Server and its Repositories need from a testing.TB:
// NewServer passes the test's, Start a standaloneReporter.
type reporter interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// standaloneReporter reports for a Server made by Start, which has no test
// to fail: a helper's failure panics (see Start), and log lines are dropped.
type standaloneReporter struct{}

func (standaloneReporter) Helper()             {}
func (standaloneReporter) Logf(string, ...any) {}
func (standaloneReporter) Fatalf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}

var repoName = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*\.git$`)

// NewServer starts a server that stops when the test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := start(tb, tb.TempDir(), opts)
	if err != nil {
		tb.Fatalf("gittest: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Start starts a server outside a test, for programs such as demos and local
// development tools that want a throwaway git server; it takes the same
// options as NewServer. The repositories live in a new temporary folder.
// Stop the server with Close, which also removes that folder.
//
// A test should use NewServer instead: on a Server from Start, the methods
// without an error result (InitRepository, Repository.Commit and the
// other helpers), which fail a test through testing.TB.Fatalf under
// NewServer, panic instead. They fail only on invalid arguments, such as a
// repository name not ending in ".git", or on a broken file system.
func Start(opts ...Option) (*Server, error) {
	root, err := os.MkdirTemp("", "gittest-")
	if err != nil {
		return nil, fmt.Errorf("gittest: %w", err)
	}
	s, err := start(standaloneReporter{}, root, opts)
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("gittest: %w", err)
	}
	s.removeRoot = true
	return s, nil
}

func start(tb reporter, root string, opts []Option) (*Server, error) {
	s := &Server{tb: tb, root: root, locks: map[string]*sync.RWMutex{}}
	for _, o := range opts {
		o(&s.cfg)
	}
	git, err := gitProgram()
	if err != nil {
		return nil, err
	}
	s.git = git
	s.backend = s.newBackend()
	var h http.Handler = http.HandlerFunc(s.serveHTTP)
	if s.cfg.wrap != nil {
		h = s.cfg.wrap(h)
	}
	s.http = httptest.NewUnstartedServer(h)
	s.http.Config.ErrorLog = log.New(&logWriter{s: s, what: "http"}, "", 0)
	if s.cfg.tls {
		p, err := newPKI()
		if err != nil {
			return nil, err
		}
		s.pki = p
		tc := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
		if s.cfg.clientCerts {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
			tc.ClientCAs = p.pool
		}
		s.http.TLS = tc
		s.http.StartTLS()
	} else {
		s.http.Start()
	}
	if s.cfg.ssh {
		ss, err := startSSH(s)
		if err != nil {
			s.http.Close()
			return nil, err
		}
		s.ssh = ss
	}
	return s, nil
}

// Close stops the server, waiting for the requests in progress, and, for
// a Server from Start, removes its repositories. Calling it again does
// nothing; a Server from NewServer is closed when its test ends.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		defer s.closed.Store(true)
		if s.ssh != nil {
			s.ssh.close()
		}
		s.http.Close()
		if s.removeRoot {
			err = os.RemoveAll(s.root)
		}
	})
	return err
}

// HTTPURL returns the http(s) URL of a repository, e.g. "repo.git".
func (s *Server) HTTPURL(name string) string { return s.http.URL + "/" + name }

// CA returns the PEM certificate of the CA that issued the server's (and
// the client's) certificate; nil without TLS.
func (s *Server) CA() []byte {
	if s.pki == nil {
		return nil
	}
	return s.pki.caPEM
}

// CertPool returns a pool holding CA.
func (s *Server) CertPool() *x509.CertPool {
	if s.pki == nil {
		return nil
	}
	return s.pki.pool
}

// ClientCertificate returns a PEM client certificate and key the server
// accepts under WithClientCertificates.
func (s *Server) ClientCertificate() (cert, key []byte) {
	if s.pki == nil {
		return nil, nil
	}
	return s.pki.clientCert, s.pki.clientKey
}

// Root returns the folder holding the bare repositories.
func (s *Server) Root() string { return s.root }

// logf logs to the test until the server is closed.
func (s *Server) logf(format string, args ...any) {
	if !s.closed.Load() {
		s.tb.Logf(format, args...)
	}
}

// InitRepository creates an empty bare repository named name (it must end
// in ".git") whose HEAD points to branch "main".
func (s *Server) InitRepository(name string) *Repository {
	s.tb.Helper()
	if !repoName.MatchString(name) || strings.Contains(name, "..") {
		s.tb.Fatalf("gittest: invalid repository name %q", name)
	}
	dir := filepath.Join(s.root, filepath.FromSlash(name))
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	if _, err := gogit.Init(st, nil); err != nil {
		s.tb.Fatalf("gittest: init %s: %v", name, err)
	}
	if err := st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main"))); err != nil {
		s.tb.Fatalf("gittest: %v", err)
	}
	return &Repository{srv: s, tb: s.tb, name: name, dir: dir, lock: s.lock(name)}
}

// ImportRepository serves a copy of the bare repository in src under name
// (which must end in ".git"), for fixtures built once and kept between test
// runs. Objects are hard-linked when src is on the same file system (git
// never changes an object file in place); everything else is copied, so
// commits and pushes to the served copy never reach src.
func (s *Server) ImportRepository(name, src string) *Repository {
	s.tb.Helper()
	if !repoName.MatchString(name) || strings.Contains(name, "..") {
		s.tb.Fatalf("gittest: invalid repository name %q", name)
	}
	if _, err := os.Stat(filepath.Join(src, "HEAD")); err != nil {
		s.tb.Fatalf("gittest: %s is not a bare repository: %v", src, err)
	}
	dir := filepath.Join(s.root, filepath.FromSlash(name))
	if err := copyRepository(src, dir); err != nil {
		s.tb.Fatalf("gittest: import %s: %v", name, err)
	}
	r := &Repository{srv: s, tb: s.tb, name: name, dir: dir, lock: s.lock(name)}
	r.now = r.latestCommitTime()
	return r
}

// copyRepository copies the bare repository src to dst, hard-linking
// object files when it can.
func copyRepository(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil // a bare repository holds regular files only
		}
		if strings.HasPrefix(filepath.ToSlash(rel), "objects/") && os.Link(p, target) == nil {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
