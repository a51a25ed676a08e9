//go:build unix

package bucket

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrDestinationNotEmpty is returned by Fetch when the destination exists
// and is not an empty directory.
var ErrDestinationNotEmpty = errors.New("destination exists and is not an empty directory")

func checkDestination(dst string) error {
	fi, err := os.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %w", dst, ErrDestinationNotEmpty)
	}
	d, err := os.Open(dst)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return fmt.Errorf("%s: %w", dst, ErrDestinationNotEmpty)
	}
	return nil
}

// renameInto moves the finished folder tmp to dst: rename(2) atomically
// replaces an empty directory, and fails if dst gained content meanwhile.
func renameInto(tmp, dst string) error {
	if err := unix.Rename(tmp, dst); err != nil {
		if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("%s: %w", dst, ErrDestinationNotEmpty)
		}
		return fmt.Errorf("rename into %s: %w", dst, err)
	}
	return nil
}
