package config_test

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestReceiverFieldValidation checks that the API server rejects invalid
// Receiver specs naming the field — an unknown type, no resources, a kind
// gitopsd does not reconcile, a name "*" without matchLabels, an
// apiVersion outside gitopsd's groups, no secretRef, a malformed interval
// — and accepts valid ones.
func TestReceiverFieldValidation(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t)
	receiver := func(spec string) *unstructured.Unstructured {
		return api.object("notification.gitopskit.dev/v1", "Receiver", spec)
	}
	const secret = "  secretRef: {name: webhook-token}\n"
	const repo = "  resources: [{kind: GitRepository, name: app}]\n"
	api.accepts(map[string]*unstructured.Unstructured{
		"github push": receiver("  type: github\n  events: [push, ping]\n  interval: 10m\n" + secret + repo),
		"every field": receiver("  type: gitlab\n  events: ['Push Hook']\n  suspend: true\n" + secret +
			"  resources:\n  - {apiVersion: source.gitopskit.dev/v1, kind: GitRepository, name: app, namespace: apps}\n" +
			"  - {kind: Kustomization, name: '*', matchLabels: {team: web}}\n"),
		"generic": receiver("  type: generic\n" + secret + repo),
	})
	api.refuses(map[string]refusal{
		"unknown type":         {receiver("  type: gcr\n" + secret + repo), "spec.type"},
		"no type":              {receiver(secret + repo), "spec.type"},
		"no resources":         {receiver("  type: github\n" + secret), "spec.resources"},
		"empty resources":      {receiver("  type: github\n" + secret + "  resources: []\n"), "spec.resources"},
		"unknown kind":         {receiver("  type: github\n" + secret + "  resources: [{kind: Deployment, name: app}]\n"), "spec.resources[0].kind"},
		"empty name":           {receiver("  type: github\n" + secret + "  resources: [{kind: GitRepository, name: ''}]\n"), "spec.resources[0].name"},
		"star without labels":  {receiver("  type: github\n" + secret + "  resources: [{kind: GitRepository, name: app}, {kind: Kustomization, name: '*'}]\n"), "spec.resources"},
		"apiVersion of apps":   {receiver("  type: github\n" + secret + "  resources: [{apiVersion: apps/v1, kind: GitRepository, name: app}]\n"), "spec.resources"},
		"no secretRef":         {receiver("  type: github\n" + repo), "spec.secretRef"},
		"empty secret name":    {receiver("  type: github\n  secretRef: {name: ''}\n" + repo), "spec.secretRef.name"},
		"malformed interval":   {receiver("  type: github\n  interval: soon\n" + secret + repo), "spec.interval"},
		"too many events":      {receiver("  type: github\n  events: [" + strings.Repeat("e,", 64) + "e]\n" + secret + repo), "spec.events"},
		"namespace too long":   {receiver("  type: github\n" + secret + "  resources: [{kind: GitRepository, name: a, namespace: " + strings.Repeat("n", 64) + "}]\n"), "spec.resources[0].namespace"},
		"too many resources":   {receiver("  type: github\n" + secret + "  resources:\n" + strings.Repeat("  - {kind: GitRepository, name: a}\n", 257)), "spec.resources"},
		"event name too long":  {receiver("  type: github\n  events: [" + strings.Repeat("e", 257) + "]\n" + secret + repo), "spec.events[0]"},
		"suspend not a bool":   {receiver("  type: github\n  suspend: sometimes\n" + secret + repo), "spec.suspend"},
		"matchLabels too many": {receiver("  type: github\n" + secret + "  resources: [{kind: GitRepository, name: '*', matchLabels: {" + manyLabels(65) + "}}]\n"), "spec.resources[0].matchLabels"},
	})
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
