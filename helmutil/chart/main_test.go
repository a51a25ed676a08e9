package chart_test

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain silences what Helm's packages log through slog's default logger.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
