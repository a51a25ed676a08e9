package gittest

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// maxSpooledBody bounds a chunked request body (a large push from the git
// CLI), which is spooled to a file because CGI needs its length.
const maxSpooledBody = 4 << 30

func (s *Server) lock(name string) *sync.RWMutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[name]
	if !ok {
		l = &sync.RWMutex{}
		s.locks[name] = l
	}
	return l
}

// repositoryDir returns the folder of the repository name, or an error
// when the name is invalid or no such repository exists.
func (s *Server) repositoryDir(name string) (string, error) {
	if !repoName.MatchString(name) || strings.Contains(name, "..") {
		return "", fmt.Errorf("invalid repository name")
	}
	dir := filepath.Join(s.root, filepath.FromSlash(name))
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		return "", fmt.Errorf("repository not found")
	}
	return dir, nil
}

func (s *Server) authorized(r *http.Request) bool {
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch {
	case s.cfg.bearerToken != "":
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && eq(tok, s.cfg.bearerToken)
	case s.cfg.username != "" || s.cfg.password != "":
		u, p, ok := r.BasicAuth()
		return ok && eq(u, s.cfg.username) && eq(p, s.cfg.password)
	}
	return true
}

// serveHTTP checks credentials, then hands smart-HTTP requests to git
// http-backend (the program git's own documentation puts behind a web
// server) through CGI. Dumb HTTP is refused.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		if s.cfg.bearerToken == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	var name, service string
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(path, "/info/refs"):
		name = strings.TrimSuffix(path, "/info/refs")
		service = r.URL.Query().Get("service")
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/git-upload-pack"):
		name, service = strings.TrimSuffix(path, "/git-upload-pack"), "git-upload-pack"
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/git-receive-pack"):
		name, service = strings.TrimSuffix(path, "/git-receive-pack"), "git-receive-pack"
	default:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if service != "git-upload-pack" && service != "git-receive-pack" {
		http.Error(w, "dumb http is not supported", http.StatusForbidden)
		return
	}
	if service == "git-receive-pack" && s.cfg.readOnly {
		http.Error(w, "read-only", http.StatusForbidden)
		return
	}
	lock := s.lock(name)
	if service == "git-receive-pack" && r.Method == http.MethodPost {
		lock.Lock()
		defer lock.Unlock()
	} else {
		lock.RLock()
		defer lock.RUnlock()
	}
	if _, err := s.repositoryDir(name); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if len(r.TransferEncoding) > 0 {
		// CGI passes a body's length, so a chunked one (git sends pushes
		// larger than http.postBuffer so) is spooled first, as a web
		// server in front of http-backend does.
		spooled, err := spool(r, s.root)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		defer spooled.Close()
	}
	s.backend.ServeHTTP(w, r)
}

// spooledBody is a request body written to a file and read back.
type spooledBody struct{ *os.File }

func (b spooledBody) Close() error {
	err := b.File.Close()
	os.Remove(b.Name())
	return err
}

// spool replaces r's chunked body by a file holding it, and sets its length.
func spool(r *http.Request, dir string) (io.Closer, error) {
	f, err := os.CreateTemp(dir, ".request-*")
	if err != nil {
		return nil, err
	}
	body := spooledBody{f}
	n, err := io.Copy(f, io.LimitReader(r.Body, maxSpooledBody+1))
	if err == nil && n > maxSpooledBody {
		err = fmt.Errorf("request body larger than %d bytes", int64(maxSpooledBody))
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		body.Close()
		return nil, err
	}
	r.Body.Close()
	r.Body, r.ContentLength, r.TransferEncoding = body, n, nil
	r.Header.Del("Transfer-Encoding")
	return body, nil
}

// newBackend returns the CGI handler running git http-backend over the
// server's repositories.
func (s *Server) newBackend() *cgi.Handler {
	return &cgi.Handler{
		Path:   s.git,
		Args:   []string{"http-backend"},
		Dir:    s.root,
		Env:    s.gitEnv("GIT_PROJECT_ROOT="+s.root, "GIT_HTTP_EXPORT_ALL=1"),
		Stderr: &logWriter{s: s, what: "git http-backend"},
		Logger: log.New(&logWriter{s: s, what: "cgi"}, "", 0),
	}
}
