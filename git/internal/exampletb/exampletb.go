// Package exampletb gives Example functions, which have no *testing.T, the
// testing.TB that gittest.NewServer takes: failures panic, cleanups run
// when Close is called.
package exampletb

import (
	"fmt"
	"os"
	"testing"
)

// TB is a testing.TB for examples. Only the methods gittest calls are
// implemented; the others panic (the embedded testing.TB is nil).
type TB struct {
	testing.TB
	cleanups []func()
	dirs     []string
}

// New returns a TB; defer its Close.
func New() *TB { return &TB{} }

// Helper does nothing.
func (t *TB) Helper() {}

// Cleanup registers f to run in Close.
func (t *TB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

// Fatal panics with its arguments.
func (t *TB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// Fatalf panics with the formatted message.
func (t *TB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// Errorf panics with the formatted message.
func (t *TB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// Logf discards the message: an example's output is what it prints.
func (t *TB) Logf(string, ...any) {}

// TempDir returns a new directory removed by Close.
func (t *TB) TempDir() string {
	d, err := os.MkdirTemp("", "gitopskit-git-example-*")
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
		_ = os.RemoveAll(d)
	}
}
