package repo

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain silences the warnings Helm's repo package logs through slog's
// default logger while the tests compare with it.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
