// Package untar extracts a tar or tar.gz stream into a directory, treating the
// archive as hostile.
//
// Limits (each overridable in [Options], zero meaning the default):
//
//   - [DefaultMaxBytes] (100 MiB) of uncompressed tar stream, counted from the
//     bytes actually read — headers, padding and data — never from what the
//     headers claim, so a decompression bomb stops at the limit; the bytes
//     written to files are held to the same limit, because sparse entries
//     expand holes that are never in the stream;
//   - a single file may not exceed [Options.MaxFileBytes] (default: the total);
//   - [DefaultMaxEntries] (50,000) entries;
//   - [DefaultMaxPathLength] (1,024 bytes) for entry names and link targets.
//
// Rejected entries: absolute names, names that leave the destination ("..",
// "../x"), names with a backslash; symbolic links that are absolute or that
// leave the destination — checked lexically when read, and again by
// resolving every link through the finished tree, where any step outside
// the destination, even one that comes back, is refused. A dangling link is
// accepted only if its target has no ".." element, since descending from
// inside the destination cannot leave it; with a ".." it must resolve; hard links to anything but a regular file extracted earlier from
// the same archive; character and block devices, FIFOs and every other entry
// type. With [Options.SkipUnsafeLinks] unsafe links are left out and reported
// instead of failing the extraction.
//
// Entries are written through an [os.Root], so even a flaw in these checks
// cannot write outside the destination. Symbolic links are created after
// every other entry, so no entry is ever written through a link.
//
// Atomicity: the destination must not exist or must be an empty directory.
// The archive is extracted into a temporary directory created next to it (on
// the same file system) and renamed into place only when everything
// succeeded; a failed extraction leaves the destination as it was. File
// modes are normalised (directories 0755, files 0644 or 0755) and owners and
// times are not restored.
//
// This package uses rename(2) semantics that replace an empty directory
// atomically, and so requires a Unix system.
package untar
