package source

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// MaxTrustedRootSize bounds a trusted_root.json file; the public Sigstore
// instance's is some 10 KiB.
const MaxTrustedRootSize = 4 << 20

// TrustedRootFile is a Sigstore trusted_root.json kept in a file (a
// mounted ConfigMap, for one), read again whenever the file changes, so a
// rotated root is used without a restart. It is safe for concurrent use.
type TrustedRootFile struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	root    *root.TrustedRoot
}

// NewTrustedRootFile reads the trusted root at path: a file that does not
// parse is an error now rather than at the first verification.
func NewTrustedRootFile(path string) (*TrustedRootFile, error) {
	f := &TrustedRootFile{path: path}
	if _, err := f.Get(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path.
func (f *TrustedRootFile) Path() string { return f.path }

// Get returns the trusted root, read again when the file's size or
// modification time changed. A file that became unreadable or invalid is
// an error, never the previous root: a root is replaced to stop trusting
// something.
func (f *TrustedRootFile) Get() (*root.TrustedRoot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, fmt.Errorf("sigstore trusted root: %w", err)
	}
	if f.root != nil && fi.ModTime().Equal(f.modTime) && fi.Size() == f.size {
		return f.root, nil
	}
	f.root = nil
	file, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("sigstore trusted root: %w", err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, MaxTrustedRootSize+1))
	if err != nil {
		return nil, fmt.Errorf("sigstore trusted root: %w", err)
	}
	if len(data) > MaxTrustedRootSize {
		return nil, fmt.Errorf("sigstore trusted root %s: larger than %d bytes", f.path, MaxTrustedRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("sigstore trusted root %s: %w", f.path, err)
	}
	f.root, f.modTime, f.size = tr, fi.ModTime(), fi.Size()
	return tr, nil
}
