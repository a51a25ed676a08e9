package kustomize_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/kit/kustomize"
)

// exampleSource lays out a source tree the way a git checkout or an
// unpacked artifact would be.
func exampleSource() string {
	root, err := os.MkdirTemp("", "example-")
	if err != nil {
		panic(err)
	}
	files := map[string]string{
		"deploy/prod/kustomization.yaml": "resources:\n- deployment.yaml\nnamePrefix: folder-\n",
		"deploy/prod/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 1
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfo
        image: ghcr.io/stefanprodan/podinfo:6.5.0
        env:
        - name: REGION
          value: ${region:=eu-west-1}
`,
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			panic(err)
		}
	}
	return root
}

func image(o *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	return cs[0].(map[string]any)["image"].(string)
}

// The README's usage example: build a folder of a source tree with a
// Flux-style overlay, substitution and SOPS keys.
func ExampleBuild() {
	root := exampleSource()
	defer os.RemoveAll(root)
	ctx := context.Background()
	vars := map[string]string{"region": "us-east-1"}
	id, _ := age.GenerateX25519Identity()
	ageKey := id.String()

	objs, err := kustomize.Build(ctx, root, "deploy/prod", kustomize.Options{
		Overlay: kustomize.Overlay{
			Namespace:  "podinfo",
			NamePrefix: "prod-", // replaces the folder's namePrefix, as in Flux
			Labels:     map[string]string{"app.kubernetes.io/part-of": "podinfo"},
			Images:     []kustomize.Image{{Name: "ghcr.io/stefanprodan/podinfo", NewTag: "6.7.0"}},
			Patches: []kustomize.Patch{{
				Patch:  `[{"op": "replace", "path": "/spec/replicas", "value": 3}]`,
				Target: &kustomize.Selector{Kind: "Deployment"},
			}},
		},
		Substitute: &kustomize.Substitution{Vars: vars, Strict: true},
		Decrypt:    &kustomize.Decryption{AgeIdentities: []string{ageKey}},
	})
	var escape *kustomize.PathEscapeError
	var remote *kustomize.RemoteBaseError
	switch {
	case errors.As(err, &escape): // the repository tried to read outside its root
	case errors.As(err, &remote): // it named a remote base or file
	case errors.Is(err, kustomize.ErrLimit): // too many files, bytes or YAML aliases
	case err != nil:
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range objs {
		replicas, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
		fmt.Println(o.GetKind(), o.GetNamespace(), o.GetName(), replicas, image(o), o.GetLabels()["app.kubernetes.io/part-of"])
	}
	// Output:
	// Deployment podinfo prod-podinfo 3 ghcr.io/stefanprodan/podinfo:6.7.0 podinfo
}

// Post-rendering a Helm chart: its rendered manifests get kustomize
// patches, an image override and common labels, in memory.
func ExampleBuildManifests() {
	rendered := []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
`)
	objs, err := kustomize.BuildManifests(context.Background(), rendered, kustomize.ManifestOptions{
		Overlay: kustomize.Overlay{
			Patches: []kustomize.Patch{{
				Patch:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
				Target: &kustomize.Selector{Kind: "Deployment", Name: "web"},
			}},
			Images: []kustomize.Image{{Name: "nginx", NewName: "mirror.example.com/nginx"}},
			Labels: map[string]string{"team": "web"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range objs {
		fmt.Println(o.GetKind(), o.GetName(), o.GetLabels()["team"])
	}
	fmt.Println(image(objs[0]))
	// Output:
	// Deployment web web
	// Service web web
	// mirror.example.com/nginx:1.25
}

// Substituting variables in manifests held in memory, as Flux's envsubst
// does, without writing them to a folder.
func ExampleBuildManifests_substitute() {
	manifests := []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${env}
data:
  region: ${region:=eu-west-1}
  short: "${commit:0:7}"
  registry: ${image/docker.io/mirror.example.com}
`)
	objs, err := kustomize.BuildManifests(context.Background(), manifests, kustomize.ManifestOptions{
		Substitute: &kustomize.Substitution{
			Vars:   map[string]string{"env": "prod", "commit": "4f2c9e1d7a", "image": "docker.io/library/nginx"},
			Strict: true,
		},
	})
	var ve *kustomize.VariableError
	if errors.As(err, &ve) {
		fmt.Println("undefined or malformed:", ve.Variable, "in", ve.Object, "at", ve.Field)
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(objs[0].GetName(), objs[0].Object["data"])
	// Output:
	// app-prod map[region:eu-west-1 registry:mirror.example.com/library/nginx short:4f2c9e1]
}

func ExampleSetImages() {
	dir, err := os.MkdirTemp("", "setters")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	manifest := "image: ghcr.io/org/app:1.2.0 # {\"$imagepolicy\": \"apps:app\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(manifest), 0o644); err != nil {
		panic(err)
	}
	res, err := kustomize.SetImages(context.Background(), dir, ".", kustomize.SetImagesOptions{
		Policies: map[string]kustomize.ImageRef{"apps:app": {Name: "ghcr.io/org/app", Tag: "1.3.0"}},
	})
	if err != nil {
		panic(err)
	}
	for _, f := range res.Files {
		for _, c := range f.Fields {
			fmt.Println(f.Path, c.Old, "→", c.New)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "app.yaml"))
	fmt.Print(string(b))
	// Output:
	// app.yaml ghcr.io/org/app:1.2.0 → ghcr.io/org/app:1.3.0
	// image: ghcr.io/org/app:1.3.0 # {"$imagepolicy": "apps:app"}
}
