package gogit

import (
	"os"

	"golang.org/x/sys/unix"
)

// stageFiles creates and renames staged files relative to open folders:
// one system call each, where an os.Root call opens every folder on the
// path first.
type stageFiles struct {
	rel string   // the folder, in the clone
	dir *os.File // open
	fd  int
}

// openStageFiles creates the folder rel in root and opens it.
func openStageFiles(root *os.Root, rel string) (*stageFiles, error) {
	if err := root.Mkdir(rel, 0o700); err != nil {
		return nil, err
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	return &stageFiles{rel: rel, dir: f, fd: int(f.Fd())}, nil
}

func (s *stageFiles) close() error { return s.dir.Close() }

// create writes the staged file name (nothing may exist there).
func (s *stageFiles) create(name string, data []byte) error {
	fd, err := unix.Openat(s.fd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &os.PathError{Op: "create", Path: name, Err: err}
	}
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "write", Path: name, Err: err}
		}
		data = data[n:]
	}
	if err := unix.Close(fd); err != nil {
		return &os.PathError{Op: "close", Path: name, Err: err}
	}
	return nil
}

// remove removes the staged file name.
func (s *stageFiles) remove(name string) error { return unix.Unlinkat(s.fd, name, 0) }

// rename moves the staged file name to base in the folder dstDir of the
// checkout, dst (opened through the checkout's os.Root). renameat never follows a link at its
// target: it would replace it.
func (s *stageFiles) rename(name, dstDir string, dst *os.File, base string) error {
	if err := unix.Renameat(s.fd, name, int(dst.Fd()), base); err != nil {
		return &os.LinkError{Op: "rename", Old: name, New: base, Err: err}
	}
	return nil
}
