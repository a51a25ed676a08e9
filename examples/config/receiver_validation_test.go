package config_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/config"
)

// TestReceiverFieldValidation checks that the API server rejects invalid
// Receiver specs naming the field — an unknown type, no resources, a kind
// gitopsd does not reconcile, a name "*" without matchLabels, an
// apiVersion outside gitopsd's groups, no secretRef, a malformed interval
// — and accepts valid ones.
func TestReceiverFieldValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := env.Client()
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.InstallCRDs(ctx, crds...); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	receiver := func(spec string) *unstructured.Unstructured {
		t.Helper()
		doc := "apiVersion: notification.gitopskit.dev/v1\nkind: Receiver\nmetadata: {name: x, namespace: " + ns + "}\nspec:\n" + spec
		var m map[string]any
		if err := utilyaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		return &unstructured.Unstructured{Object: m}
	}
	const secret = "  secretRef: {name: webhook-token}\n"
	const repo = "  resources: [{kind: GitRepository, name: app}]\n"
	for name, spec := range map[string]string{
		"github push": "  type: github\n  events: [push, ping]\n  interval: 10m\n" + secret + repo,
		"every field": "  type: gitlab\n  events: ['Push Hook']\n  suspend: true\n" + secret +
			"  resources:\n  - {apiVersion: source.gitopskit.dev/v1, kind: GitRepository, name: app, namespace: apps}\n" +
			"  - {kind: Kustomization, name: '*', matchLabels: {team: web}}\n",
		"generic": "  type: generic\n" + secret + repo,
	} {
		if err := c.Create(ctx, receiver(spec), client.DryRunAll); err != nil {
			t.Errorf("%s: a valid Receiver was rejected: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		spec  string
		field string
	}{
		"unknown type":         {"  type: gcr\n" + secret + repo, "spec.type"},
		"no type":              {secret + repo, "spec.type"},
		"no resources":         {"  type: github\n" + secret, "spec.resources"},
		"empty resources":      {"  type: github\n" + secret + "  resources: []\n", "spec.resources"},
		"unknown kind":         {"  type: github\n" + secret + "  resources: [{kind: Deployment, name: app}]\n", "spec.resources[0].kind"},
		"empty name":           {"  type: github\n" + secret + "  resources: [{kind: GitRepository, name: ''}]\n", "spec.resources[0].name"},
		"star without labels":  {"  type: github\n" + secret + "  resources: [{kind: GitRepository, name: app}, {kind: Kustomization, name: '*'}]\n", "spec.resources"},
		"apiVersion of apps":   {"  type: github\n" + secret + "  resources: [{apiVersion: apps/v1, kind: GitRepository, name: app}]\n", "spec.resources"},
		"no secretRef":         {"  type: github\n" + repo, "spec.secretRef"},
		"empty secret name":    {"  type: github\n  secretRef: {name: ''}\n" + repo, "spec.secretRef.name"},
		"malformed interval":   {"  type: github\n  interval: soon\n" + secret + repo, "spec.interval"},
		"too many events":      {"  type: github\n  events: [" + strings.Repeat("e,", 64) + "e]\n" + secret + repo, "spec.events"},
		"namespace too long":   {"  type: github\n" + secret + "  resources: [{kind: GitRepository, name: a, namespace: " + strings.Repeat("n", 64) + "}]\n", "spec.resources[0].namespace"},
		"too many resources":   {"  type: github\n" + secret + "  resources:\n" + strings.Repeat("  - {kind: GitRepository, name: a}\n", 257), "spec.resources"},
		"event name too long":  {"  type: github\n  events: [" + strings.Repeat("e", 257) + "]\n" + secret + repo, "spec.events[0]"},
		"suspend not a bool":   {"  type: github\n  suspend: sometimes\n" + secret + repo, "spec.suspend"},
		"matchLabels too many": {"  type: github\n" + secret + "  resources: [{kind: GitRepository, name: '*', matchLabels: {" + manyLabels(65) + "}}]\n", "spec.resources[0].matchLabels"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.Create(ctx, receiver(tc.spec), client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error = %v, want Invalid naming %s", err, tc.field)
			}
		})
	}
}

// manyLabels returns n label pairs in YAML flow style.
func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "k%d: v", i)
	}
	return b.String()
}
