// Package archive packs a directory into a reproducible tar.gz artifact.
//
// The output depends only on the content of the tree, the [Options] and the
// version of this module's compressor — not on the file system's directory
// order, the umask, timestamps, owners or the number of CPUs:
//
//   - entries are written depth first in byte order of their names, with
//     slash-separated relative paths (directories end in '/');
//   - modification times are the Unix epoch, uid and gid are 0 and user and
//     group names are empty;
//   - directories have mode 0755, files 0644, or 0755 if any execute bit is set;
//   - the tar format is PAX (USTAR headers, PAX records only for long names);
//   - the gzip stream is one member with a fixed header (no name, no time,
//     OS unknown). It is compressed in fixed-size blocks on several goroutines,
//     each block a pure function of its input and the previous block's 32 KiB
//     tail, so the bytes are identical at every GOMAXPROCS and worker count.
//
// The digest of the tar.gz is computed while it is written; nothing is read
// twice.
//
// Files are left out by ignore rules in .gitignore syntax, applied in this
// order (the last matching rule wins): [DefaultIgnorePatterns], the patterns
// of every ".sourceignore" file in the tree (each applying to its own
// directory and below), and [Options.Ignore].
//
// Symbolic links are archived as links only when they are relative and
// resolve, on disk, to a path inside the root; every other link is skipped
// and reported in [Result.Skipped]. Links are never followed, and files are
// read through an [os.Root], so nothing outside the root is ever read.
// Sockets, devices and FIFOs are skipped and reported the same way.
package archive
