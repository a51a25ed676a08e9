// Package bucket reads a folder of an S3-compatible bucket (Amazon S3,
// MinIO, Google Cloud Storage's XML API, Ceph, …) into a directory: the
// content of a Bucket source's artifact. It lives in the artifact module
// because what it produces is what an artifact is made of — it is the
// bucket counterpart of untar, shares archive's ignore rules so that the
// revision it computes names exactly what archive will pack, and imports
// no sibling module, so any source controller can take it without git,
// OCI or Kubernetes code.
//
// A sync is two calls. [Client.List] lists the objects under a prefix,
// refuses keys that could leave a destination folder, applies the ignore
// rules (archive.DefaultIgnorePatterns, the .sourceignore objects of the
// listing, the caller's patterns — in .gitignore syntax, the last match
// winning, exactly as archive applies them to a tree) and returns a
// [Listing] whose Revision is the SHA-256 of the selected keys and ETags.
// Nothing selected is downloaded: when the revision equals the last one
// fetched there is nothing to do, and an unchanged bucket costs the
// listing requests only (pass the previous Listing so unchanged
// .sourceignore objects are not read again). [Client.Fetch] then
// downloads the selection, several objects at once, into a new folder
// that replaces the destination atomically.
//
// What a bucket holds is treated as hostile. Keys that are absolute, hold
// "." or ".." elements, empty elements, backslashes or control
// characters, are longer than [MaxKeyLength], are listed twice, or name
// both an object and the folder of another, fail the call with
// [ErrUnsafeKey]; files are written through an os.Root, so nothing lands
// outside the destination even if a check were wrong. Keys ending in "/"
// are folder markers and are skipped, and a key outside the prefix asked
// for is refused too. Listings are bounded in objects
// ([DefaultMaxObjects]), every response but an object's content in bytes
// ([MaxResponseSize]), and the selection in bytes ([DefaultMaxSize]);
// every download asks for the listed ETag and is held to the listed size,
// and a mismatch is [ErrObjectChanged]. Each call has a timeout
// ([DefaultTimeout]). All limits are overridable.
//
// The client signs requests with static credentials (access key, secret
// key, optional session token) or sends them anonymously, speaks HTTPS
// unless WithInsecure(true) allows plain HTTP (certificates are always
// verified, against the system roots or WithRootCAs), and can go through
// a proxy. Credentials never appear in an error: S3 errors quote requests,
// so every message the endpoint, a proxy or the transport produced is
// masked (the keys, the session token, the proxy password and any
// signing parameter) before it is returned as an [*Error] or a wrapped
// transport error.
//
// The S3 protocol is minio-go's (github.com/minio/minio-go/v7). The
// package needs a Unix system (rename(2) over an empty directory).
package bucket
