package repo

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain silences the warnings Helm's repo package logs through slog's
// default logger while the tests compare with it, and removes the
// benchmarks' generated index.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	code := m.Run()
	if benchIndexDir != "" {
		os.RemoveAll(benchIndexDir) // the benchmarks' generated index
	}
	os.Exit(code)
}
