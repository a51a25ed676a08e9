// Package repo reads Helm chart repositories: HTTP(S) repositories, whose
// index.yaml is parsed as a stream into a compact table (never the YAML
// tree of the whole index), and OCI repositories, through the oci module.
package repo
