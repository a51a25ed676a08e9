package config_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestNotificationFieldValidation checks that the API server rejects
// invalid Provider and Alert specs naming the field (type, address,
// timeout, interval, references, severity, event sources, list bounds,
// reminderInterval) and accepts valid ones, Flux's own shapes included.
func TestNotificationFieldValidation(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t)
	object := func(kind, spec string) *unstructured.Unstructured {
		return api.object("notification.gitopskit.dev/v1", kind, spec)
	}
	provider := func(spec string) *unstructured.Unstructured { return object("Provider", spec) }
	alert := func(spec string) *unstructured.Unstructured {
		return object("Alert", "  providerRef: {name: slack}\n"+spec)
	}
	sources := "  eventSources: [{kind: Kustomization, name: '*'}]\n"
	api.accepts(map[string]*unstructured.Unstructured{
		"provider everything": provider("  type: slack\n  address: https://hooks.slack.com/services/x\n  channel: '#gitops'\n" +
			"  username: gitopsd\n  secretRef: {name: slack}\n  certSecretRef: {name: ca}\n  proxySecretRef: {name: proxy}\n" +
			"  timeout: 15s\n  interval: 10m\n  suspend: false\n"),
		"provider minimal":     provider("  type: generic\n"),
		"provider mattermost":  provider("  type: mattermost\n"),
		"provider azuredevops": provider("  type: azuredevops\n  address: https://dev.azure.com/org/project/_git/repo\n"),
		"provider timeout ms":  provider("  type: github\n  timeout: 500ms\n"),
		"alert everything": alert("  eventSeverity: error\n" +
			"  eventSources:\n  - {kind: Kustomization, name: '*', namespace: apps, matchLabels: {team: a}}\n" +
			"  - {apiVersion: source.gitopskit.dev/v1, kind: GitRepository, name: app}\n" +
			"  inclusionList: ['.*']\n  exclusionList: ['(?i)dns']\n  eventMetadata: {env: prod}\n  summary: prod cluster\n" +
			"  reminderInterval: 1h\n  suspend: false\n"),
		"alert minimal":           alert(sources),
		"alert no reminder":       alert(sources + "  reminderInterval: 0s\n"),
		"alert helmrelease":       alert("  eventSources: [{kind: HelmRelease, name: podinfo}]\n"),
		"alert invalid regex too": alert(sources + "  inclusionList: ['(']\n"), // the controller stalls on it
	})
	api.refuses(map[string]refusal{
		"provider no type":         {provider("  address: https://example.com\n"), "spec.type"},
		"provider unknown type":    {provider("  type: pigeon\n"), "spec.type"},
		"provider address scheme":  {provider("  type: generic\n  address: ftp://example.com\n"), "spec.address"},
		"provider address long":    {provider("  type: generic\n  address: https://example.com/" + strings.Repeat("a", 2048) + "\n"), "spec.address"},
		"provider timeout":         {provider("  type: generic\n  timeout: 1h\n"), "spec.timeout"},
		"provider interval":        {provider("  type: generic\n  interval: ten minutes\n"), "spec.interval"},
		"provider secret empty":    {provider("  type: generic\n  secretRef: {name: ''}\n"), "spec.secretRef.name"},
		"provider cert empty":      {provider("  type: generic\n  certSecretRef: {name: ''}\n"), "spec.certSecretRef.name"},
		"provider proxy empty":     {provider("  type: generic\n  proxySecretRef: {name: ''}\n"), "spec.proxySecretRef.name"},
		"alert no provider":        {object("Alert", sources), "spec.providerRef"},
		"alert provider empty":     {object("Alert", "  providerRef: {name: ''}\n"+sources), "spec.providerRef.name"},
		"alert no sources":         {alert(""), "spec.eventSources"},
		"alert empty sources":      {alert("  eventSources: []\n"), "spec.eventSources"},
		"alert source kind":        {alert("  eventSources: [{kind: Pod, name: '*'}]\n"), "spec.eventSources[0].kind"},
		"alert source no name":     {alert("  eventSources: [{kind: Kustomization}]\n"), "spec.eventSources[0].name"},
		"alert source namespace":   {alert("  eventSources: [{kind: Kustomization, name: a, namespace: " + strings.Repeat("n", 64) + "}]\n"), "spec.eventSources[0].namespace"},
		"alert severity":           {alert(sources + "  eventSeverity: warning\n"), "spec.eventSeverity"},
		"alert inclusion too long": {alert(sources + "  inclusionList: ['" + strings.Repeat("a", 1025) + "']\n"), "spec.inclusionList[0]"},
		"alert exclusion too long": {alert(sources + "  exclusionList: ['" + strings.Repeat("a", 1025) + "']\n"), "spec.exclusionList[0]"},
		"alert summary too long":   {alert(sources + "  summary: " + strings.Repeat("s", 256) + "\n"), "spec.summary"},
		"alert reminder interval":  {alert(sources + "  reminderInterval: hourly\n"), "spec.reminderInterval"},
	})
}
