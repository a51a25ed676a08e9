package ssa_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// A write whose answer is lost (the API server stored it, then the
// connection dropped, as when a client's deadline passes while etcd is
// slow) fails with MayExist, and InventoryFromResult keeps it, so that a
// later prune finds an object that is on the cluster; a write the API
// server refused is not in it.
func TestFailedWritesThatMayExist(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	cfg := env.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method != http.MethodPatch || req.URL.Query().Has("dryRun") {
				return rt.RoundTrip(req)
			}
			switch {
			case strings.HasSuffix(req.URL.Path, "/configmaps/lost"):
				resp, err := rt.RoundTrip(req)
				if err != nil {
					return nil, err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
					return nil, fmt.Errorf("the write of lost was not stored: %s", resp.Status)
				}
				return nil, errors.New("connection reset after the write was stored")
			case strings.HasSuffix(req.URL.Path, "/configmaps/refused"):
				body := `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"refused"}`
				return &http.Response{
					StatusCode: http.StatusForbidden, Status: "403 Forbidden", Request: req,
					Header: http.Header{"Content-Type": {"application/json"}},
					Body:   io.NopCloser(strings.NewReader(body)),
				}, nil
			}
			return rt.RoundTrip(req)
		})
	})
	m, _ := newManager(t, cfg)
	docs := ""
	for _, n := range []string{"stored", "lost", "refused"} {
		docs += fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {k: v}\n---\n", n)
	}
	cs, err := m.Apply(ctx, objects(t, docs), ssa.ApplyOptions{DefaultNamespace: ns})
	var se *ssa.SetError
	if !errors.As(err, &se) || len(se.Objects) != 2 {
		t.Fatalf("Apply = %v, want a SetError for lost and refused", err)
	}
	mayExist := map[string]bool{}
	for _, o := range se.Objects {
		mayExist[o.ID.Name] = o.MayExist
	}
	if !mayExist["lost"] || mayExist["refused"] {
		t.Errorf("MayExist = %v, want lost only", mayExist)
	}
	for n, want := range map[string]bool{"stored": true, "lost": true, "refused": false} {
		err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, &corev1.ConfigMap{})
		if exists := err == nil; exists != want {
			t.Errorf("%s on the cluster: %t (%v), want %t", n, exists, err, want)
		}
	}
	ids := func(inv *ssa.Inventory) []string {
		var out []string
		for _, e := range inv.Entries {
			out = append(out, e.ID+"@"+e.Version)
		}
		return out
	}
	want := []string{ns + "_lost__ConfigMap@v1", ns + "_stored__ConfigMap@v1"}
	if got := ids(ssa.InventoryFromResult(cs, err)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("InventoryFromResult = %v, want %v", got, want)
	}
	if got := ids(ssa.InventoryFromChangeSet(cs)); len(got) != 1 {
		t.Errorf("InventoryFromChangeSet = %v, want stored alone", got)
	}
	if got := ids(ssa.InventoryFromResult(cs, nil)); len(got) != 1 {
		t.Errorf("InventoryFromResult without an error = %v, want stored alone", got)
	}
}
