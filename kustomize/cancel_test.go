package kustomize

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// readCounter wraps the build's filesystem to count the reads that
// succeed, and to cancel the build at the nth.
type readCounter struct {
	filesys.FileSystem
	n, cancelAt   int64
	cancel        context.CancelFunc
	afterCancel   atomic.Int64 // reads that succeeded after the cancel
	reads, errors atomic.Int64
	cancelled     atomic.Bool
}

func (r *readCounter) ReadFile(p string) ([]byte, error) {
	if r.reads.Add(1) == r.cancelAt {
		r.cancel()
		r.cancelled.Store(true)
	}
	data, err := r.FileSystem.ReadFile(p)
	switch {
	case err != nil:
		r.errors.Add(1)
	case r.cancelled.Load():
		r.afterCancel.Add(1)
	}
	return data, err
}

// When the context ends, the build really stops: no file is read after
// the cancel, kustomize has returned by the time Build does, and Build
// reports the context's error.
func TestBuildStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{"kustomization.yaml": "resources:\n"}
	for i := range 200 {
		n := fmt.Sprintf("cm%03d.yaml", i)
		files[n] = cm(fmt.Sprintf("c%03d", i))
		files["kustomization.yaml"] += "- " + n + "\n"
	}
	writeTree(t, root, files)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running atomic.Bool
	var rc *readCounter
	run := func(fsys filesys.FileSystem, target string, o *krusty.Options) (resmap.ResMap, error) {
		running.Store(true)
		defer running.Store(false)
		rc = &readCounter{FileSystem: fsys, cancelAt: 20, cancel: cancel}
		return runKrusty(rc, target, o)
	}
	_, err := build(ctx, root, "", Options{}, run)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if running.Load() {
		t.Error("kustomize was still running when Build returned")
	}
	if n := rc.afterCancel.Load(); n != 0 {
		t.Errorf("%d files were read after the cancel", n)
	}
	if rc.reads.Load() >= 200 {
		t.Errorf("kustomize read %d files: it did not stop", rc.reads.Load())
	}
}

// A build that ends before it starts returns at once.
func TestBuildWithEndedContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, t.TempDir(), "", Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, err := BuildManifests(ctx, []byte(cm("x")), ManifestOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("manifests: got %v", err)
	}
}

// A FIFO (or device) in the source is refused without opening it for
// reading, which would block the build forever.
func TestSpecialFilesRefused(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"kustomization.yaml": "resources:\n- pipe.yaml\n"})
	if err := syscall.Mkfifo(filepath.Join(root, "pipe.yaml"), 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	_, err := Build(context.Background(), root, "", Options{})
	if err == nil {
		t.Fatal("a FIFO was built")
	}
	t.Log(err)
}
