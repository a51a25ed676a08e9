package testenv_test

import (
	"testing"

	"github.com/gitopskit/kit/runtime/testenv"
)

// BenchmarkStartStop measures what one test binary pays for its control
// plane: starting kube-apiserver and etcd until requests are served, and
// stopping them.
func BenchmarkStartStop(b *testing.B) {
	for b.Loop() {
		e, err := testenv.Start()
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNamespace measures the per-test cost of a fresh namespace.
func BenchmarkNamespace(b *testing.B) {
	for b.Loop() {
		_ = env.Namespace(b)
	}
}
