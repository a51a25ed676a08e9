package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/artifact/storage"
)

// Defaults of the server's options.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 5 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultReadinessPath     = "/readyz"
)

// Server serves artifacts from a storage.
type Server struct {
	st                *storage.Storage
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	shutdownTimeout   time.Duration
	readinessPath     string
}

// Option configures a Server.
type Option func(*Server)

// WithTimeouts sets the http.Server read, write and idle timeouts. A zero
// value keeps the default. The write timeout bounds the transfer of the
// largest artifact to the slowest consumer.
func WithTimeouts(read, write, idle time.Duration) Option {
	return func(s *Server) {
		if read > 0 {
			s.readTimeout = read
			s.readHeaderTimeout = min(s.readHeaderTimeout, read)
		}
		if write > 0 {
			s.writeTimeout = write
		}
		if idle > 0 {
			s.idleTimeout = idle
		}
	}
}

// WithShutdownTimeout bounds the graceful shutdown; connections still open
// after it are closed.
func WithShutdownTimeout(d time.Duration) Option {
	return func(s *Server) { s.shutdownTimeout = d }
}

// WithReadinessPath moves the readiness endpoint. It must be a single path
// element such as "/healthz", which can never be an artifact path.
func WithReadinessPath(p string) Option {
	return func(s *Server) { s.readinessPath = p }
}

// New returns a Server for st.
func New(st *storage.Storage, opts ...Option) *Server {
	s := &Server{
		st:                st,
		readHeaderTimeout: DefaultReadHeaderTimeout,
		readTimeout:       DefaultReadTimeout,
		writeTimeout:      DefaultWriteTimeout,
		idleTimeout:       DefaultIdleTimeout,
		shutdownTimeout:   DefaultShutdownTimeout,
		readinessPath:     DefaultReadinessPath,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Handler returns the HTTP handler: artifacts and the readiness endpoint.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == s.readinessPath {
		s.ready(w)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if path.Clean("/"+p) != "/"+p {
		http.NotFound(w, r)
		return
	}
	f, err := s.st.Open(r.Context(), p)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrInvalidName) {
			logr.FromContextOrDiscard(r.Context()).Error(err, "serving artifact", "path", p)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("ETag", `"`+string(f.Digest)+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz") {
		w.Header().Set("Content-Type", "application/gzip")
	}
	http.ServeContent(w, r, path.Base(p), f.Info.ModTime(), f)
}

func (s *Server) ready(w http.ResponseWriter) {
	fi, err := os.Stat(s.st.Root())
	if err != nil || !fi.IsDir() {
		http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Serve serves on ln until ctx ends, then shuts down gracefully within the
// shutdown timeout. It returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := logr.FromContextOrDiscard(ctx)
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.readHeaderTimeout,
		ReadTimeout:       s.readTimeout,
		WriteTimeout:      s.writeTimeout,
		IdleTimeout:       s.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return logr.NewContext(context.WithoutCancel(ctx), log) },
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("artifact server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
		log.Error(err, "artifact server shutdown timed out; connections closed")
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("artifact server: %w", serr)
	}
	return nil
}

// ListenAndServe listens on addr (e.g. ":9090") and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("artifact server: %w", err)
	}
	return s.Serve(ctx, ln)
}
