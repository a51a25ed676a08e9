// Package exampletb gives Example functions, which have no *testing.T, the
// testing.TB the helmtest and ocitest harnesses take: failures panic,
// cleanups run when Close is called.
package exampletb

import (
	"fmt"
	"os"
	"testing"
)

// TB is a testing.TB for examples. Only the methods the harnesses call are
// implemented; the others panic.
type TB struct {
	testing.TB
	cleanups []func()
	dirs     []string
}

// New returns a TB; defer its Close.
func New() *TB { return &TB{} }

func (t *TB) Helper()                           {}
func (t *TB) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *TB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (t *TB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *TB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *TB) Logf(string, ...any)               {}

// TempDir returns a new directory removed by Close.
func (t *TB) TempDir() string {
	d, err := os.MkdirTemp("", "helmutil-example-*")
	if err != nil {
		panic(err)
	}
	t.dirs = append(t.dirs, d)
	return d
}

// Close runs the cleanups, last first, and removes the directories.
func (t *TB) Close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	for _, d := range t.dirs {
		os.RemoveAll(d)
	}
}
