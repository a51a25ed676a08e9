// Package fetch downloads artifacts over HTTP, verifies their digest and
// optionally unpacks them.
//
// A download streams into a temporary file next to its destination while
// the digest is computed; only a verified file is renamed into place (or
// unpacked, with the limits of package untar). A digest mismatch is an
// *artifact.DigestMismatchError and, like every other failure, leaves nothing
// behind. The size of a download is bounded ([DefaultMaxDownloadSize] unless
// changed), whether or not the server sends a Content-Length.
//
// Transient failures — 408, 429 and 5xx answers, refused or reset
// connections, a body cut short, timeouts — are retried with exponential
// backoff and jitter, honouring Retry-After. A 404 is reported as
// [ErrNotFound]; other answers as an *[HTTPError]. Cancelling the context
// stops the download at once.
//
// [WithHostOverride] replaces the host of every artifact URL, so a consumer
// running outside the cluster can reach a source controller through a port
// forward. User information and query strings (which may hold credentials or
// signatures) are masked in every error and log line.
package fetch
