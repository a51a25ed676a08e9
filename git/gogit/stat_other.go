//go:build !linux

package gogit

import (
	"io/fs"
	"time"
)

// fileIdentity is not implemented on this platform: every Export rewrites
// its destination whole.
func fileIdentity(fs.FileInfo) (ino uint64, ctime int64, ok bool) { return 0, 0, false }

// indexStat is not implemented on this platform: the index records
// modification times and sizes only.
func indexStat(fs.FileInfo) (dev, ino, uid, gid uint32, ctime time.Time) {
	return 0, 0, 0, 0, time.Time{}
}
