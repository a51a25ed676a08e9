package ssa_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/ssa"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
		Data:       map[string][]byte{"user": []byte("admin-name"), "password": []byte("old-password-value"), "removed": []byte("gone-value")},
	}
	if err := env.Client().Create(ctx, existing); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, objects(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: same, labels: {app: web}}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1}]}
`), ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	// An autoscaler takes spec.replicas.
	hpa, _ := newManagerAs(t, "autoscaler")
	if _, err := hpa.Apply(ctx, objects(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}\n"), ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	set := objects(t, `
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {user: admin-name, password: new-password-value, added: added-value}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: same, labels: {app: web}}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: new}
data: {b: "2"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {build: "42"}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1}]}
`)
	rec.reset()
	diffs, err := m.Diff(ctx, set, ssa.DiffOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("Diff wrote: %+v", w)
	}
	byName := map[string]ssa.ObjectDiff{}
	for _, d := range diffs {
		byName[d.ID.Name] = d
	}
	sec := byName["creds"]
	if sec.Action != ssa.ActionConfigured {
		t.Errorf("secret action = %s", sec.Action)
	}
	for _, secret := range []string{"old-password-value", "new-password-value", "added-value", "admin-name"} {
		for _, enc := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if strings.Contains(sec.Unified, enc) || strings.Contains(string(sec.Patch), enc) {
				t.Errorf("secret value %q visible in diff:\n%s\n%s", enc, sec.Unified, sec.Patch)
			}
		}
	}
	for _, want := range []string{"-  password: '*** (before)'", "+  password: '*** (after)'", "+  added: '***'", "   removed: '***'"} {
		if !strings.Contains(sec.Unified, want) {
			t.Errorf("secret diff lacks %q:\n%s", want, sec.Unified)
		}
	}
	if strings.Contains(sec.Unified, "user:") && !strings.Contains(sec.Unified, "  user: '***'") {
		t.Errorf("unchanged key not masked as unchanged:\n%s", sec.Unified)
	}
	if got := byName["same"].Action; got != ssa.ActionUnchanged {
		t.Errorf("same: %s\n%s", got, byName["same"].Unified)
	}
	if d := byName["new"]; d.Action != ssa.ActionCreated || !strings.Contains(d.Unified, "+  b: \"2\"") {
		t.Errorf("new: %s\n%s", d.Action, d.Unified)
	}
	if web := byName["web"]; !strings.Contains(web.Unified, "-  replicas: 5") || !strings.Contains(web.Unified, "+  replicas: 2") {
		t.Errorf("web without IgnoreOthersFields does not show the replicas change:\n%s", web.Unified)
	}

	// Leaving out the autoscaler's field leaves only our annotation.
	diffs, err = m.Diff(ctx, set[3:], ssa.DiffOptions{DefaultNamespace: ns, IgnoreOthersFields: true})
	if err != nil {
		t.Fatal(err)
	}
	web := diffs[0]
	if web.Action != ssa.ActionConfigured || !strings.Contains(web.Unified, "+    build: \"42\"") || strings.Contains(web.Unified, "replicas") {
		t.Errorf("web: %s\n%s", web.Action, web.Unified)
	}
	var ops []map[string]any
	if err := json.Unmarshal(web.Patch, &ops); err != nil || len(ops) != 1 || ops[0]["path"] != "/metadata/annotations" {
		t.Errorf("web patch = %s (%v)", web.Patch, err)
	}

	// Ignore rules hide the annotation for the selected object only.
	diffs, err = m.Diff(ctx, set, ssa.DiffOptions{DefaultNamespace: ns, IgnoreOthersFields: true, IgnoreRules: []ssa.IgnoreRule{
		{Paths: []string{"/metadata/annotations"}, Selector: ssa.Selector{Group: "apps", Kind: "Deployment", LabelSelector: "!never"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if d.ID.Name == "web" && d.Action != ssa.ActionUnchanged {
			t.Errorf("ignored field still diffs:\n%s", d.Unified)
		}
	}
	if _, err := m.Diff(ctx, set, ssa.DiffOptions{IgnoreRules: []ssa.IgnoreRule{{Paths: []string{"spec"}}}}); !errors.Is(err, ssa.ErrInvalidID) {
		t.Errorf("bad pointer: %v", err)
	}
}

func newManagerAs(t testing.TB, field string) (*ssa.Manager, error) {
	t.Helper()
	m, err := ssa.NewManager(env.Client(), ssa.Owner{Field: field})
	if err != nil {
		t.Fatal(err)
	}
	return m, nil
}
