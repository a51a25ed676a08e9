package kustomize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// rendered is what a Helm chart renders: a stream of objects, comments
// naming their templates, a Secret among them.
const rendered = `---
# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: web-db
stringData:
  password: hunter2-plaintext
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        envFrom:
        - secretRef:
            name: web-db
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
`

// A post-render overlay: patches of both kinds with targets, an image
// override, a namespace and prefix (references follow), common metadata;
// the input order is kept.
func TestBuildManifestsOverlay(t *testing.T) {
	t.Parallel()
	objs, err := BuildManifests(context.Background(), []byte(rendered), ManifestOptions{Overlay: Overlay{
		Namespace:  "apps",
		NamePrefix: "prod-",
		Patches: []Patch{
			{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n"},
			{Patch: `[{"op": "add", "path": "/metadata/annotations", "value": {"lb": "internal"}}]`, Target: &Selector{Kind: "Service"}},
		},
		Images:      []Image{{Name: "nginx", NewName: "mirror.local/nginx", NewTag: "1.27"}},
		Labels:      map[string]string{"app.kubernetes.io/managed-by": "gitopskit"},
		Annotations: map[string]string{"rendered-by": "helm"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Secret/apps/prod-web-db", "Deployment/apps/prod-web", "Service/apps/prod-web"}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	d := objs[1]
	if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas = %d", r)
	}
	c := d.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if c["image"] != "mirror.local/nginx:1.27" {
		t.Errorf("image = %v", c["image"])
	}
	if ref := c["envFrom"].([]any)[0].(map[string]any)["secretRef"].(map[string]any)["name"]; ref != "prod-web-db" {
		t.Errorf("the Secret reference was not renamed: %v", ref)
	}
	if objs[2].GetAnnotations()["lb"] != "internal" || objs[2].GetAnnotations()["rendered-by"] != "helm" {
		t.Errorf("service annotations %v", objs[2].GetAnnotations())
	}
	for _, o := range objs {
		if o.GetLabels()["app.kubernetes.io/managed-by"] != "gitopskit" {
			t.Errorf("%s: labels %v", o.GetName(), o.GetLabels())
		}
	}
	if v, _, _ := unstructured.NestedString(objs[0].Object, "stringData", "password"); v != "hunter2-plaintext" {
		t.Errorf("secret data changed: %q", v)
	}
}

// With only Substitute, BuildManifests is envsubst over a stream: same
// forms, same rules, same errors as a build.
func TestBuildManifestsSubstitute(t *testing.T) {
	t.Parallel()
	stream := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a-${env}\n  data:\n    region: ${region:=eu}\n    short: ${sha:0:7}x\n---\n" + cm("b", "n", "${count}")
	vars := map[string]string{"env": "prod", "sha": "0123456789", "count": "3"}
	objs, err := BuildManifests(context.Background(), []byte(stream), ManifestOptions{Substitute: &Substitution{Vars: vars}})
	if err != nil {
		t.Fatal(err)
	}
	// kustomize's reader unwraps the List (its items come last).
	if diff := cmp.Diff([]string{"ConfigMap//b", "ConfigMap//a-prod"}, ids(objs)); diff != "" {
		t.Fatal(diff)
	}
	if diff := cmp.Diff(map[string]any{"region": "eu", "short": "0123456x"}, objs[1].Object["data"]); diff != "" {
		t.Error(diff)
	}
	if n := objs[0].Object["data"].(map[string]any)["n"]; n != int64(3) {
		t.Errorf("n = %#v", n)
	}
	_, err = BuildManifests(context.Background(), []byte(stream), ManifestOptions{Substitute: &Substitution{Vars: map[string]string{"sha": "s3cr3t-sha", "count": "1"}, Strict: true}})
	var ve *VariableError
	if !errors.As(err, &ve) || ve.Variable != "env" || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("want a VariableError naming env, got %v", err)
	}
	// No options: the objects as they are.
	objs, err = BuildManifests(context.Background(), []byte(rendered), ManifestOptions{})
	if err != nil || len(objs) != 3 {
		t.Fatalf("%v %v", ids(objs), err)
	}
}

func TestBuildManifestsRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := BuildManifests(ctx, []byte(rendered), ManifestOptions{MaxBytes: 100}); !errors.Is(err, ErrLimit) {
		t.Errorf("over MaxBytes: %v", err)
	}
	small := laughs(bombHeader, 3, 9)
	_, err := BuildManifests(ctx, []byte(small), ManifestOptions{MaxAliasNodes: 10})
	var ae *AliasError
	if !errors.As(err, &ae) || ae.Path != manifestsFile || !errors.Is(err, ErrLimit) {
		t.Errorf("aliases: %v", err)
	}
	if _, err := BuildManifests(ctx, []byte(rendered), ManifestOptions{Overlay: Overlay{Components: []string{"c"}}}); err == nil {
		t.Error("components accepted without a folder")
	}
	dup := rendered + "---\n" + strings.Replace(rendered[strings.Index(rendered, "# Source: web/templates/service.yaml"):], "apiVersion: v1", "apiVersion: v1", 1)
	for _, ov := range []Overlay{{}, {NamePrefix: "p-"}} {
		if _, err := BuildManifests(ctx, []byte(dup), ManifestOptions{Overlay: ov}); err == nil {
			t.Errorf("%+v: a duplicate object was accepted", ov)
		}
	}
	// Errors about broken manifests do not quote their content.
	broken := strings.Replace(rendered, "  name: web-db\n", "", 1)
	for _, ov := range []Overlay{{}, {NamePrefix: "p-"}} {
		_, err := BuildManifests(ctx, []byte(broken), ManifestOptions{Overlay: ov})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%+v: %v", ov, err)
		}
	}
	// A patch cannot read a file: there is none to read.
	_, err = BuildManifests(ctx, []byte(rendered), ManifestOptions{Overlay: Overlay{Patches: []Patch{{Patch: "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: x\npath: /etc/passwd\n"}}}})
	if err == nil {
		t.Error("a patch naming a file was accepted")
	}
}
