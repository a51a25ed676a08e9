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
//   - [DefaultMaxPathLength] (1,024 bytes) for entry names and link targets;
//   - a negative value is no limit at all (tested past every default).
//
// Accepted as GNU tar accepts them: an entry that repeats the name of an
// earlier file or symbolic link replaces it (the last one wins; a hard link
// made to the earlier file keeps its content); gzip streams of several
// members; zero padding after the gzip stream (bounded like the tar
// stream). Refused: an entry whose name is an earlier directory or lies
// below an earlier file, any other data after the gzip stream.
//
// Rejected entries: absolute names, names that leave the destination ("..",
// "../x"), names with a backslash; symbolic links that are absolute or that
// leave the destination — checked lexically when read, and again by
// resolving every link through the finished tree one element at a time,
// where any step outside the destination, even one that comes back, and a
// chain of more than [MaxSymlinkHops] links (Linux's own limit) are
// refused. A dangling link is accepted only if its resolution climbs with
// no ".." element, since descending from inside the destination cannot
// leave it; with a ".." it must resolve. Entries below a symbolic link of
// the archive; hard links to anything but a regular file extracted earlier
// from the same archive; character and block devices, FIFOs and every
// other entry type. With [Options.SkipUnsafeLinks] unsafe links are left out and reported
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
