package config_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestBucketFieldValidation checks that the API server rejects invalid
// Bucket specs naming the field (provider, bucketName, endpoint, prefix,
// durations, Secret references), accepts valid ones, and that a
// Kustomization's sourceRef accepts a Bucket.
func TestBucketFieldValidation(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t)
	object := api.object
	bucket := func(spec string) *unstructured.Unstructured {
		return object("source.gitopskit.dev/v1", "Bucket", "  interval: 1m\n"+spec)
	}
	base := "  bucketName: configs\n  endpoint: minio.minio.svc:9000\n"
	ks := func(kind string) *unstructured.Unstructured {
		return object("kustomize.gitopskit.dev/v1", "Kustomization", "  interval: 1m\n  prune: true\n  sourceRef: {kind: "+kind+", name: configs}\n")
	}
	api.accepts(map[string]*unstructured.Unstructured{
		"bucket everything": bucket(base + "  provider: generic\n  region: eu-west-1\n  prefix: apps/prod/\n  insecure: true\n" +
			"  secretRef: {name: s3}\n  certSecretRef: {name: tls}\n  proxySecretRef: {name: proxy}\n  ignore: |\n    *.md\n  timeout: 90s\n  suspend: false\n"),
		"bucket minimal":              bucket(base),
		"bucket aws endpoint":         bucket("  bucketName: my.bucket-1\n  endpoint: s3.eu-west-1.amazonaws.com\n"),
		"bucket ipv4 port":            bucket("  bucketName: configs\n  endpoint: 10.0.0.1:9000\n"),
		"bucket ipv6":                 bucket("  bucketName: configs\n  endpoint: '[::1]:9000'\n"),
		"kustomization from a bucket": ks("Bucket"),
	})
	api.refuses(map[string]refusal{
		"provider aws":            {bucket(base + "  provider: aws\n"), "spec.provider"},
		"no bucket name":          {bucket("  endpoint: minio:9000\n"), "spec.bucketName"},
		"bucket name short":       {bucket("  bucketName: ab\n  endpoint: minio:9000\n"), "spec.bucketName"},
		"bucket name slash":       {bucket("  bucketName: a/b/c\n  endpoint: minio:9000\n"), "spec.bucketName"},
		"bucket name long":        {bucket("  bucketName: " + strings.Repeat("b", 64) + "\n  endpoint: minio:9000\n"), "spec.bucketName"},
		"no endpoint":             {bucket("  bucketName: configs\n"), "spec.endpoint"},
		"endpoint with scheme":    {bucket("  bucketName: configs\n  endpoint: https://s3.example.com\n"), "spec.endpoint"},
		"endpoint with path":      {bucket("  bucketName: configs\n  endpoint: s3.example.com/bucket\n"), "spec.endpoint"},
		"endpoint with user info": {bucket("  bucketName: configs\n  endpoint: 'key:secret@s3.example.com'\n"), "spec.endpoint"},
		"endpoint with space":     {bucket("  bucketName: configs\n  endpoint: 's3 example.com'\n"), "spec.endpoint"},
		"prefix too long":         {bucket(base + "  prefix: " + strings.Repeat("p", 1025) + "\n"), "spec.prefix"},
		"interval":                {object("source.gitopskit.dev/v1", "Bucket", base+"  interval: 1 minute\n"), "spec.interval"},
		"timeout":                 {bucket(base + "  timeout: soon\n"), "spec.timeout"},
		"secret name empty":       {bucket(base + "  secretRef: {name: ''}\n"), "spec.secretRef.name"},
		"cert secret name empty":  {bucket(base + "  certSecretRef: {name: ''}\n"), "spec.certSecretRef.name"},
		"proxy secret name empty": {bucket(base + "  proxySecretRef: {name: ''}\n"), "spec.proxySecretRef.name"},
		"kustomization kind":      {ks("HelmRepository"), "spec.sourceRef.kind"},
	})
}
