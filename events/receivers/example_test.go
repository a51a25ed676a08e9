package receivers_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gitopskit/kit/events/receivers"
)

// A GitHub receiver: the handler finds it by its secret path, verifies
// the signature and hands the request to the trigger, which would call
// RequestReconcile.
func ExampleNewHandler() {
	rcv := &receivers.Receiver{
		Type: receivers.TypeGitHub, Name: "app", Namespace: "apps",
		Token:     "the-secret-token", // from the Receiver's secret
		Events:    []string{"push"},
		Resources: []receivers.Resource{{APIVersion: "source.gitopskit.dev/v1", Kind: "GitRepository", Name: "app"}},
	}
	lookup := receivers.LookupFunc(func(_ context.Context, path string) (*receivers.Receiver, error) {
		if path == rcv.Path() { // index your receivers by Path()
			return rcv, nil
		}
		return nil, nil
	})
	h := receivers.NewHandler(lookup, func(ctx context.Context, req *receivers.Request) error {
		fmt.Println("reconcile", req.Resources[0].Kind, req.Resources[0].Namespace+"/"+req.Resources[0].Name,
			"for", req.Payload.Repository, req.Payload.Ref)
		return nil // receivers.RequestReconcile(ctx, c, req.Resources, time.Now())
	})
	srv := httptest.NewServer(h) // or h.Server(":9292").ListenAndServe()
	defer srv.Close()

	body := `{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","repository":{"full_name":"org/app"}}`
	send := func(key string) {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(body))
		req, _ := http.NewRequest(http.MethodPost, srv.URL+rcv.Path(), strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			fmt.Println(resp.StatusCode)
		}
	}
	send("the-secret-token")
	send("a guess")
	// Output:
	// reconcile GitRepository apps/app for org/app refs/heads/main
	// 200
	// 401
}
