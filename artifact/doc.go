// Package artifact defines the Artifact a source controller produces and every
// consumer fetches, together with the two string formats that identify it:
// revisions and digests.
//
// An Artifact has the JSON shape Flux uses (path, url, revision, digest,
// lastUpdateTime, size, metadata), so it can sit in a CRD status and be read by
// tools of either ecosystem. It carries hand-written DeepCopy methods in the
// form controller-gen would generate.
//
// Digests are "<algorithm>:<lower-case hex>" strings, as in OCI and Flux. SHA-256
// is the default ([Canonical]); SHA-384, SHA-512 and BLAKE3 are selectable.
// A [Digester] computes several digests in one pass, and [Verify] and
// [VerifyFile] check a stream or a file against a digest string.
//
// Revisions are "<named-pointer>@<algorithm>:<hex>" ("main@sha1:…",
// "v1.2.0@sha256:…") or a bare digest ("sha256:…"). [ParseRevision] also reads
// the legacy "<branch>/<sha1>" form, and [RevisionsEqual] compares revisions
// after normalising it.
//
// The subpackages build on this one: archive packs a directory into a
// reproducible tar.gz, untar unpacks one within limits, storage keeps
// artifacts on disk, server serves them over HTTP, fetch downloads and
// verifies them, bucket reads a folder of an S3-compatible bucket into a
// directory to archive, and artifacttest and buckettest are test harnesses
// for consumers.
package artifact
