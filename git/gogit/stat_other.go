//go:build !linux

package gogit

import "io/fs"

// fileIdentity is not implemented on this platform: every Export rewrites
// its destination whole.
func fileIdentity(fs.FileInfo) (ino uint64, ctime int64, ok bool) { return 0, 0, false }
