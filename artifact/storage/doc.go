// Package storage keeps artifacts in a local directory tree laid out as
// "<kind>/<namespace>/<name>/<file>", the layout a source controller serves
// over HTTP (see package server).
//
// Writes are atomic: content goes to a temporary file in the artifact's own
// directory, which is fsynced, renamed into place and followed by an fsync of
// the directory, so a reader or a crash sees the old file or the new one,
// never a torn one. Every write, garbage collection and removal for one
// artifact runs under a per-artifact lock that holds across goroutines (a
// mutex) and across processes sharing the directory (flock(2) on a
// ".lock" file in the artifact's directory; Linux and other Unix systems,
// local file systems — flock over NFS is not reliable).
//
// Every path element (kind, namespace, name, file) is validated: no empty
// element, no "." or "..", no separators or control characters, and no
// leading dot (dot files are the storage's own: locks and temporary files).
// Files are opened for reading through an [os.Root], so a link planted in the
// tree cannot expose anything outside it.
//
// Garbage collection ([Storage.GC]) keeps the current artifact, deletes the
// others beyond a count or past an age, removes temporary files left by
// crashed writers, and is bounded in time.
package storage
