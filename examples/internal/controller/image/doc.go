// Package image holds gitopsd's image automation reconcilers:
// ImageRepository (scans a registry's tags into a bounded in-memory
// TagStore), ImagePolicy (chooses the latest of those tags with
// oci.TagPolicy, and optionally reflects its digest) and
// ImageUpdateAutomation (rewrites the $imagepolicy markers of a git
// repository with kustomize.SetImages, commits once and pushes as a fast
// forward, re-applying on the new head when another pusher won the race).
//
// An automation checks out spec.git.checkout.ref (a branch, tag, semver
// range, reference name or commit; anything but a branch onto
// spec.git.push.branch) through a gogit.Cache it may share with the
// GitRepository reconciler (gogit.Client.CloneCached), so each run
// fetches only the objects that are new since the last one. ImagePolicy
// changes are batched: the automations of their namespace run once
// BatchWindow has passed without another change, so one burst of changes
// is one commit.
package image
