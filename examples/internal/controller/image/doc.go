// Package image holds gitopsd's image automation reconcilers:
// ImageRepository (scans a registry's tags into a bounded in-memory
// TagStore), ImagePolicy (chooses the latest of those tags with
// oci.TagPolicy, and optionally reflects its digest) and
// ImageUpdateAutomation (rewrites the $imagepolicy markers of a git
// repository with kustomize.SetImages, commits once and pushes as a fast
// forward, re-applying on the new head when another pusher won the race).
package image
