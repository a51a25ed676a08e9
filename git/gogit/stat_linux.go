package gogit

import (
	"io/fs"
	"syscall"
)

// fileIdentity returns the inode and change time (ns) of a file, which
// together change whenever the file is written, chmod-ed or replaced.
func fileIdentity(info fs.FileInfo) (ino uint64, ctime int64, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Ino, st.Ctim.Nano(), true
}
