package config_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestSourceFieldValidation checks that the API server rejects invalid
// values of the GitRepository and OCIRepository fields a Flux user expects
// (provider, proxySecretRef, recurseSubmodules, include, sparseCheckout,
// serviceAccountName, keyless verify), naming the field, and accepts
// valid ones.
func TestSourceFieldValidation(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t)
	object := func(kind, spec string) *unstructured.Unstructured {
		return api.object("source.gitopskit.dev/v1", kind, spec)
	}
	git := func(spec string) *unstructured.Unstructured {
		return object("GitRepository", "  url: https://example.com/repo.git\n  interval: 1m\n"+spec)
	}
	oci := func(spec string) *unstructured.Unstructured {
		return object("OCIRepository", "  url: oci://example.com/app\n  interval: 1m\n"+spec)
	}
	api.accepts(map[string]*unstructured.Unstructured{
		"git everything": git("  provider: generic\n  proxySecretRef: {name: proxy}\n  recurseSubmodules: true\n" +
			"  sparseCheckout: [deploy, ./apps/web/, a..b]\n" +
			"  include:\n  - repository: {name: lib}\n  - repository: {name: shared, namespace: platform}\n    fromPath: ./manifests\n    toPath: vendor/shared\n"),
		"oci everything": oci("  provider: generic\n  serviceAccountName: puller.v1\n  proxySecretRef: {name: proxy}\n" +
			"  verify:\n    matchOIDCIdentity: [{issuer: '^https://token\\.actions\\.githubusercontent\\.com$', subject: '^https://github\\.com/org/'}]\n"),
		"oci keys only": oci("  verify: {secretRef: {name: cosign}}\n"),
	})
	api.refuses(map[string]refusal{
		"git provider":                 {git("  provider: azure\n"), "spec.provider"},
		"git proxy secret name":        {git("  proxySecretRef: {name: ''}\n"), "spec.proxySecretRef.name"},
		"git recurseSubmodules type":   {git("  recurseSubmodules: sometimes\n"), "spec.recurseSubmodules"},
		"git sparse parent":            {git("  sparseCheckout: [deploy, ../other]\n"), "spec.sparseCheckout[1]"},
		"git sparse absolute":          {git("  sparseCheckout: [/etc]\n"), "spec.sparseCheckout[0]"},
		"git sparse inner parent":      {git("  sparseCheckout: [a/../../b]\n"), "spec.sparseCheckout[0]"},
		"git sparse empty":             {git("  sparseCheckout: ['']\n"), "spec.sparseCheckout[0]"},
		"git include no repository":    {git("  include: [{toPath: x}]\n"), "spec.include[0].repository"},
		"git include empty name":       {git("  include: [{repository: {name: ''}}]\n"), "spec.include[0].repository.name"},
		"git include namespace":        {git("  include: [{repository: {name: a, namespace: " + strings.Repeat("n", 64) + "}}]\n"), "spec.include[0].repository.namespace"},
		"git include fromPath parent":  {git("  include: [{repository: {name: a}, fromPath: ../secrets}]\n"), "spec.include[0].fromPath"},
		"git include fromPath abs":     {git("  include: [{repository: {name: a}, fromPath: /etc}]\n"), "spec.include[0].fromPath"},
		"git include toPath abs":       {git("  include: [{repository: {name: a}, toPath: /tmp/x}]\n"), "spec.include[0].toPath"},
		"git include toPath climbs":    {git("  include: [{repository: {name: a}, toPath: vendor/../..}]\n"), "spec.include[0].toPath"},
		"git include toPath root":      {git("  include: [{repository: {name: a}, toPath: .}]\n"), "spec.include[0].toPath"},
		"git include too many":         {git("  include:\n" + strings.Repeat("  - repository: {name: a}\n", 33)), "spec.include"},
		"oci provider":                 {oci("  provider: aws\n"), "spec.provider"},
		"oci service account":          {oci("  serviceAccountName: Not_A_Name\n"), "spec.serviceAccountName"},
		"oci proxy secret name":        {oci("  proxySecretRef: {name: ''}\n"), "spec.proxySecretRef.name"},
		"oci keyless without identity": {oci("  verify: {provider: cosign}\n"), "spec.verify"},
		"oci identity empty issuer":    {oci("  verify: {matchOIDCIdentity: [{issuer: '', subject: x}]}\n"), "spec.verify.matchOIDCIdentity[0].issuer"},
	})
}
