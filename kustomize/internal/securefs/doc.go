// Package securefs is the filesystem kustomize builds on: a read-only view of
// one source directory, plus a small in-memory overlay, that cannot be made to
// read anything else.
//
// Kustomize sees a virtual namespace:
//
//	/source/...   the source directory, opened through an *os.Root
//	              (absent for a memory filesystem, NewMemory)
//	/overlay/...  files the caller put in memory
//
// Any other path is refused with a *PathEscapeError. Reads inside /source go
// through os.Root, which resolves every path component itself and refuses a
// symlink or ".." that leaves the directory, so the check cannot be raced by a
// symlink swapped in between a check and an open. Symlinks that stay inside
// the root work as they do on disk. Only regular files are read: a FIFO or
// device is opened non-blocking and refused. Override serves a generated
// file at a source path without writing to the source.
//
// Every file's content passes two checks before kustomize sees it: the
// YAML alias bound (internal/yamlalias) and the caller's Inspect function.
// The filesystem counts files and bytes read and refuses reads beyond the
// configured limits with an error wrapping ErrLimit; once its context is
// done, every operation fails. Refusals are recorded (Refusals), because
// kustomize ignores some filesystem errors and formats others with %v. It
// is safe for concurrent use.
package securefs
