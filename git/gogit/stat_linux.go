package gogit

import (
	"io/fs"
	"syscall"
	"time"
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

// indexStat returns what a git index records of a file besides its
// modification time and size.
func indexStat(info fs.FileInfo) (dev, ino, uid, gid uint32, ctime time.Time) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0, 0, time.Time{}
	}
	return uint32(st.Dev), uint32(st.Ino), st.Uid, st.Gid, time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
}
