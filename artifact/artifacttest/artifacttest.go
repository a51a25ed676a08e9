package artifacttest

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/server"
	"github.com/gitopskit/kit/artifact/storage"
)

// Server is an artifact server on a loopback port, closed when the test ends.
type Server struct {
	http    *httptest.Server
	storage *storage.Storage
}

// NewServer starts a server over a storage in a temporary directory.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{http: httptest.NewUnstartedServer(nil)}
	s.http.Start()
	st, err := storage.New(t.TempDir(), storage.WithBaseURL(s.http.URL))
	if err != nil {
		s.http.Close()
		t.Fatalf("artifacttest: %v", err)
	}
	s.storage = st
	s.http.Config.Handler = server.New(st).Handler()
	t.Cleanup(s.http.Close)
	return s
}

// URL returns the server's base URL, e.g. "http://127.0.0.1:40123".
func (s *Server) URL() string { return s.http.URL }

// Storage returns the storage behind the server.
func (s *Server) Storage() *storage.Storage { return s.storage }

// Add archives dir as the artifact of kind/namespace/name and returns it with
// its URL, revision and digest. An empty revision becomes the archive's
// digest.
func (s *Server) Add(t testing.TB, kind, namespace, name, dir, revision string) artifact.Artifact {
	t.Helper()
	a, err := s.storage.Archive(context.Background(), storage.Key{Kind: kind, Namespace: namespace, Name: name}, dir, revision, archive.Options{})
	if err != nil {
		t.Fatalf("artifacttest: %v", err)
	}
	if a.Revision == "" {
		a.Revision = string(a.Digest)
	}
	return a
}

// AddFile serves data verbatim as file of kind/namespace/name — for example
// a hand-made hostile archive — and returns the artifact. An empty revision
// becomes the file's digest.
func (s *Server) AddFile(t testing.TB, kind, namespace, name, file string, data []byte, revision string) artifact.Artifact {
	t.Helper()
	a, err := s.storage.Store(context.Background(), storage.Key{Kind: kind, Namespace: namespace, Name: name}, file, bytes.NewReader(data), revision)
	if err != nil {
		t.Fatalf("artifacttest: %v", err)
	}
	if a.Revision == "" {
		a.Revision = string(a.Digest)
	}
	return a
}
