package e2e_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// A git server's faults, as a middleware in front of git http-backend.
const (
	gitHealthy   int32 = iota
	gitFails500        // every request answers 500
	gitCutsPacks       // a fetch's pack response is cut after packCut bytes
)

// packCut is how much of a pack response a cutting server sends before it
// drops the connection: past the pkt-line headers, well inside the pack.
const packCut = 4 << 10

// faultyGit wraps gittest's handler with the fault mode holds, counting
// the responses it failed or cut.
func faultyGit(mode *atomic.Int32, faults *atomic.Int32) gittest.Option {
	return gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch mode.Load() {
			case gitFails500:
				faults.Add(1)
				http.Error(w, "injected failure", http.StatusInternalServerError)
				return
			case gitCutsPacks:
				if strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
					cw := &cutWriter{ResponseWriter: w, left: packCut}
					next.ServeHTTP(cw, r)
					if cw.left > 0 {
						// Too short to cut (not counted: the test then fails
						// waiting for a fault).
						return
					}
					faults.Add(1)
					w.(http.Flusher).Flush()
					// The response is chunked (CGI sends no length): aborting
					// closes the connection without its last chunk, as a
					// server or proxy dying mid-response does.
					panic(http.ErrAbortHandler)
				}
			}
			next.ServeHTTP(w, r)
		})
	})
}

// cutWriter passes the first left bytes of a response and drops the rest.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.left <= 0 {
		return n, nil
	}
	if len(p) > w.left {
		p = p[:w.left]
	}
	w.left -= len(p)
	if _, err := w.ResponseWriter.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// incompressible returns n bytes of hex text that compress badly (to
// about half), so that a pack or archive holding it is large.
func incompressible(seed uint64, n int) string {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	raw := make([]byte, n/2)
	rand.NewChaCha8(key).Read(raw)
	return hex.EncodeToString(raw)
}

// servedDigest downloads an artifact from the artifact server and checks
// that the file served is complete: its digest is the one status records.
func servedDigest(t testing.TB, a *artifact.Artifact) {
	t.Helper()
	d, err := artifact.ParseDigest(string(a.Digest))
	if err != nil {
		t.Fatalf("artifact %s: digest %q: %v", a.Path, a.Digest, err)
	}
	resp, err := http.Get(a.URL)
	if err != nil {
		t.Fatalf("GET %s: %v", a.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", a.URL, resp.Status)
	}
	h := d.Algorithm().New()
	n, err := io.Copy(h, bufio.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("GET %s: %v", a.URL, err)
	}
	if got := artifact.NewDigest(d.Algorithm(), h); got != d {
		t.Fatalf("artifact %s served with digest %s (%d bytes), status says %s", a.URL, got, n, d)
	}
	if a.Size != nil && *a.Size != n {
		t.Fatalf("artifact %s served with %d bytes, status says %d", a.URL, n, *a.Size)
	}
}

// A git server that answers 500 and then drops the connection in the
// middle of the pack: the GitRepository says so in a Ready=False
// FetchFailed naming the failure, keeps its previous artifact (recorded
// and served whole: no half-fetched tree is ever packaged), retries on its
// own, and once the server recovers is Ready at the new revision.
func TestGitServerFaults(t *testing.T) {
	f := newFixture(t)
	var mode, faults atomic.Int32
	srv := gittest.NewServer(t, faultyGit(&mode, &faults))
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "first", map[string]string{"deploy/config.yaml": cm("config", "one")})
	src := gitRepository("app", srv.HTTPURL("app.git"))
	f.create(src)
	rev1 := "main@sha1:" + c1
	f.eventually(src, func() bool {
		return conditions.IsReady(src) && src.Status.Artifact != nil && src.Status.Artifact.Revision == rev1
	}, func() string { return conds(src.Status.Conditions) })
	first := src.Status.Artifact.DeepCopy()
	servedDigest(t, first)

	// The new commit carries enough data that its pack is far longer than
	// what the cutting server sends.
	c2 := repo.Commit("main", "big", map[string]string{"deploy/blob.txt": incompressible(1, 256<<10)})

	stillFirst := func(phase string) {
		t.Helper()
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(src), src); err != nil {
			t.Fatal(err)
		}
		if a := src.Status.Artifact; a == nil || a.Revision != first.Revision || a.Digest != first.Digest || a.Path != first.Path {
			t.Fatalf("%s: status.artifact = %+v, want the previous one %+v", phase, a, first)
		}
		servedDigest(t, src.Status.Artifact)
	}

	for _, phase := range []struct {
		name  string
		mode  int32
		parts []string
	}{
		{"500", gitFails500, []string{"500"}},
		{"cut", gitCutsPacks, nil},
	} {
		mode.Store(phase.mode)
		before := faults.Load()
		f.request(src)
		var msg string
		f.eventually(src, func() bool {
			c := conditions.Get(src, conditions.Ready)
			if faults.Load() == before || c == nil || c.Status != metav1.ConditionFalse || c.Reason != "FetchFailed" {
				return false
			}
			msg = c.Message
			for _, p := range phase.parts {
				if !strings.Contains(msg, p) {
					return false
				}
			}
			// The cut's message is the cut's, not the 500 before it.
			return phase.mode != gitCutsPacks || !strings.Contains(msg, "500")
		}, func() string {
			return fmt.Sprintf("%s: faults=%d; conditions %s", phase.name, faults.Load()-before, conds(src.Status.Conditions))
		})
		t.Logf("%s: Ready=False: %s", phase.name, msg)
		if !strings.Contains(msg, srv.HTTPURL("app.git")) {
			t.Errorf("%s: the message does not name the repository: %s", phase.name, msg)
		}
		// It keeps failing, as many times as it retries, never with a new
		// artifact.
		f.eventually(src, func() bool { return faults.Load() >= before+2 }, func() string {
			return fmt.Sprintf("%s: %d faulty responses, want a retry after the first", phase.name, faults.Load()-before)
		})
		stillFirst(phase.name)
	}

	// The server recovers; no request: the GitRepository's own retry
	// fetches the new commit.
	mode.Store(gitHealthy)
	rev2 := "main@sha1:" + c2
	f.eventually(src, func() bool {
		return conditions.IsReady(src) && src.Status.Artifact != nil && src.Status.Artifact.Revision == rev2
	}, func() string { return conds(src.Status.Conditions) })
	if src.Status.Artifact.Digest == first.Digest {
		t.Fatalf("the new revision's artifact has the first one's digest %s", first.Digest)
	}
	servedDigest(t, src.Status.Artifact)
}
