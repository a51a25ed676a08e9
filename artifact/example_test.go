package artifact_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/artifact/server"
	"github.com/gitopskit/kit/artifact/storage"
)

// A source controller archives a checkout and serves it; a consumer
// fetches it, verified, into a fresh directory. (README: Usage.)
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tmp, _ := os.MkdirTemp("", "artifact-example-")
	defer os.RemoveAll(tmp)
	checkoutDir := filepath.Join(tmp, "checkout")
	_ = os.MkdirAll(filepath.Join(checkoutDir, "docs"), 0o755)
	_ = os.WriteFile(filepath.Join(checkoutDir, "app.yaml"), []byte("kind: ConfigMap\n"), 0o644)
	_ = os.WriteFile(filepath.Join(checkoutDir, "docs", "README.md"), []byte("left out\n"), 0o644)
	commit := strings.Repeat("ab", 20)

	// The source side.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := storage.New(filepath.Join(tmp, "data"), storage.WithBaseURL("http://"+ln.Addr().String()))
	if err != nil {
		fmt.Println(err)
		return
	}
	key := storage.Key{Kind: "gitrepository", Namespace: "default", Name: "podinfo"}
	a, err := st.Archive(ctx, key, checkoutDir, artifact.NewRevision("main", artifact.Digest("sha1:"+commit)), archive.Options{
		Ignore: []string{"/docs/"}, // .gitignore syntax, applied after defaults and .sourceignore files
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = st.GC(ctx, a, storage.GCOptions{Keep: 2, MaxAge: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	go server.New(st).Serve(ctx, ln) // returns after a graceful shutdown when ctx ends

	// The consumer side.
	f := fetch.New() // retries, 256 MiB download limit, untar limits by default
	dst := filepath.Join(tmp, "src")
	if _, err := f.Fetch(ctx, a, dst); err != nil {
		var mismatch *artifact.DigestMismatchError
		switch {
		case errors.Is(err, fetch.ErrNotFound): // not published yet: requeue
		case errors.As(err, &mismatch): // content changed under us: requeue
		}
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dst)
	fmt.Println(a.Revision)
	fmt.Println(a.Digest) // a pure function of the tree: reproducible
	fmt.Println(len(entries), entries[0].Name())
	// Output:
	// main@sha1:abababababababababababababababababababab
	// sha256:71e3619bd94c38c4f6a20d72908c96f5761e3435ef38e54df01d38bba6ee0fc7
	// 1 app.yaml
}
