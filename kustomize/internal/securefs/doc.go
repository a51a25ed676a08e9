// Package securefs is the filesystem kustomize builds on: a read-only view of
// one source directory, plus a small in-memory overlay, that cannot be made to
// read anything else.
//
// Kustomize sees a virtual namespace:
//
//	/source/...   the source directory, opened through an *os.Root
//	/overlay/...  files the caller generated in memory (kustomizations)
//
// Any other path is refused with a *PathEscapeError. Reads inside /source go
// through os.Root, which resolves every path component itself and refuses a
// symlink or ".." that leaves the directory, so the check cannot be raced by a
// symlink swapped in between a check and an open. Symlinks that stay inside
// the root work as they do on disk.
//
// The filesystem counts files and bytes read and refuses reads beyond the
// configured limits with an error wrapping ErrLimit. It is safe for
// concurrent use.
package securefs
