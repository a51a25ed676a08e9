package kustomize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestSubstitution(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"kustomization.yaml": "resources:\n- cm.yaml\n- deploy.yaml\n- off.yaml\n",
		"cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-${env}
data:
  region: ${region:=eu-west-1}
  zone: ${zone:-a}
  literal: $${env}
  quoted: "${count}"
  mixed: pre-${env}-post
  token: ${token}
`,
		"deploy.yaml": strings.Replace(deployment, "replicas: 1", "replicas: ${count}", 1),
		"off.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: off
  annotations:
    kustomize.gitopskit.dev/substitute: disabled
data:
  kept: ${env}
`,
	})
	vars := map[string]string{"env": "prod", "count": "3", "token": "s3cr3t-value"}
	objs := mustBuild(t, root, "", Options{Substitute: &Substitution{Vars: vars}})
	c := find(t, objs, "ConfigMap", "cfg-prod")
	want := map[string]any{"region": "eu-west-1", "zone": "a", "literal": "${env}", "quoted": "3", "mixed": "pre-prod-post", "token": "s3cr3t-value"}
	if diff := cmp.Diff(want, c.Object["data"]); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	// An unquoted reference takes the type of its value, as textual
	// substitution would give.
	if r, ok, _ := unstructured.NestedInt64(find(t, objs, "Deployment", "web").Object, "spec", "replicas"); !ok || r != 3 {
		t.Errorf("replicas = %v (%v)", r, ok)
	}
	if v, _, _ := unstructured.NestedString(find(t, objs, "ConfigMap", "off").Object, "data", "kept"); v != "${env}" {
		t.Errorf("opt-out object was substituted: %q", v)
	}

	// Strict mode names the variable and object, never a value.
	delete(vars, "env")
	_, err := Build(context.Background(), root, "", Options{Substitute: &Substitution{Vars: vars, Strict: true}})
	var ve *VariableError
	if !errors.As(err, &ve) || ve.Variable != "env" || !strings.Contains(ve.Object, "ConfigMap/cfg-${env}") {
		t.Fatalf("want VariableError for env, got %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error leaks a value: %v", err)
	}
	// Non-strict: undefined becomes empty.
	objs = mustBuild(t, root, "", Options{Substitute: &Substitution{Vars: vars}})
	find(t, objs, "ConfigMap", "cfg-")
}

func TestSubstitutionCannotAddStructure(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"cm.yaml": cm("x", "v", "${v}")})
	objs := mustBuild(t, root, "", Options{Substitute: &Substitution{Vars: map[string]string{"v": "a\nevil: injected\n"}}})
	data := objs[0].Object["data"].(map[string]any)
	if len(data) != 1 || data["v"] != "a\nevil: injected\n" {
		t.Fatalf("data = %#v", data)
	}
	// A substitution that breaks an object is an error naming it.
	writeTree(t, root, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n"})
	_, err := Build(context.Background(), root, "", Options{Substitute: &Substitution{Vars: map[string]string{"name": "123"}}})
	var ve *VariableError
	if !errors.As(err, &ve) || ve.Object != "ConfigMap/${name}" {
		t.Fatalf("want VariableError naming the object, got %v", err)
	}
}

// Flux's other substitution forms are expanded, not left as written.
func TestSubstitutionFluxForms(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: forms
data:
  short: "${sha:0:7}"
  tail: "${sha: -4}"
  digest: ${image/:v/@v}
  all: ${path//\//-}
  upper: ${env^^}
  first: ${env^}
  len: "${#sha}"
  base: ${path##*/}
  nested: ${missing:-${env}-${region:=eu}}
`})
	vars := map[string]string{"sha": "0123456789abcdef", "image": "ghcr.io/app:v1.2", "path": "a/b/c.txt", "env": "prod"}
	objs := mustBuild(t, root, "", Options{Substitute: &Substitution{Vars: vars}})
	want := map[string]any{"short": "0123456", "tail": "cdef", "digest": "ghcr.io/app@v1.2", "all": "a-b-c.txt",
		"upper": "PROD", "first": "Prod", "len": "16", "base": "c.txt", "nested": "prod-eu"}
	if diff := cmp.Diff(want, objs[0].Object["data"]); diff != "" {
		t.Error(diff)
	}
}

const substitutedSecret = "s3cr3t-VALUE-never-in-errors"

// Every way substitution can fail is an error naming the object as
// written, the variable, the field and its line, and never a value.
func TestSubstitutionErrorsCarryNoValue(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"secret": substitutedSecret, "other": substitutedSecret + "-2", "big": strings.Repeat("x", 4096)}
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		check func(t *testing.T, err error)
	}{
		{
			name:  "undefined in strict mode",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${secret}\ndata:\n  a: x\n  b: ${nope}\n"},
			opts:  Options{Substitute: &Substitution{Vars: vars, Strict: true}},
			check: func(t *testing.T, err error) {
				var ve *VariableError
				if !errors.As(err, &ve) || ve.Variable != "nope" || ve.Object != "ConfigMap/${secret}" || ve.Field != "data.b" || ve.Line != 7 {
					t.Errorf("got %#v", ve)
				}
			},
		},
		{
			name:  "malformed form",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  list:\n  - ${secret:two}\n"},
			opts:  Options{Substitute: &Substitution{Vars: vars}},
			check: func(t *testing.T, err error) {
				var ve *VariableError
				if !errors.As(err, &ve) || ve.Variable != "secret" || ve.Field != "data.list[0]" || ve.Line != 7 || !strings.Contains(ve.Reason, "offset") {
					t.Errorf("got %#v", ve)
				}
			},
		},
		{
			name:  "unsupported form",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: ${secret:?must be set}\n"},
			opts:  Options{Substitute: &Substitution{Vars: vars}},
			check: func(t *testing.T, err error) {
				var ve *VariableError
				if !errors.As(err, &ve) || ve.Variable != "secret" || !strings.Contains(ve.Reason, "not supported") {
					t.Errorf("got %#v", ve)
				}
			},
		},
		{
			name:  "failure below a substituted key",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  ${secret}: ${other:x}\n"},
			opts:  Options{Substitute: &Substitution{Vars: vars}},
			check: func(t *testing.T, err error) {
				var ve *VariableError
				if !errors.As(err, &ve) || ve.Field != "data.${secret}" {
					t.Errorf("the field path must show the key as written: %#v", ve)
				}
			},
		},
		{
			name: "duplicates made by substitution",
			files: map[string]string{
				"a.yaml": cm("app-${secret}"),
				"b.yaml": cm("app-" + "${secret:0:100}"),
			},
			opts: Options{Substitute: &Substitution{Vars: vars}},
			check: func(t *testing.T, err error) {
				var de *DuplicateError
				if !errors.As(err, &de) || len(de.Objects) != 1 || !strings.Contains(de.Objects[0], "/ConfigMap//app-${secret}") {
					t.Errorf("got %v", err)
				}
			},
		},
		{
			name:  "substitution makes the object invalid",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${n}\n"},
			opts:  Options{Substitute: &Substitution{Vars: map[string]string{"n": "12345"}}},
			check: func(t *testing.T, err error) {
				var ve *VariableError
				if !errors.As(err, &ve) || ve.Object != "ConfigMap/${n}" || strings.Contains(err.Error(), "12345") {
					t.Errorf("got %v", err)
				}
			},
		},
		{
			name:  "substituted text over the limit",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: " + strings.Repeat("${big}", 100) + "\n"},
			opts:  Options{MaxBytes: 100_000, Substitute: &Substitution{Vars: vars}},
			check: func(t *testing.T, err error) {
				var ve *VariableError
				if !errors.As(err, &ve) || !errors.Is(err, ErrLimit) || ve.Field != "data.a" {
					t.Errorf("got %v", err)
				}
			},
		},
		{
			name:  "a substituted number that JSON cannot hold",
			files: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: ${n}\n"},
			opts:  Options{Substitute: &Substitution{Vars: map[string]string{"n": ".nan"}}},
			check: func(t *testing.T, err error) {
				var ve *VariableError
				if !errors.As(err, &ve) || strings.Contains(err.Error(), "nan") {
					t.Errorf("got %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeTree(t, root, tt.files)
			_, err := Build(context.Background(), root, "", tt.opts)
			if err == nil {
				t.Fatal("the build succeeded")
			}
			t.Log(err)
			if strings.Contains(err.Error(), substitutedSecret) || strings.Contains(err.Error(), "xxxx") {
				t.Fatalf("the error quotes a value: %v", err)
			}
			tt.check(t, err)
		})
	}
}
