package mask

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	m := New("hunter22", "pa\"ss\nword", "42", "", "42")
	for in, want := range map[string]string{
		`Invalid value: "hunter22": bad`: `Invalid value: "***": bad`,
		"prefix-hunter22-suffix":         "prefix-***-suffix",
		`json: "pa\"ss\nword"`:           `json: "***"`,
		"raw pa\"ss\nword":               "raw ***",
		"b64 " + base64.StdEncoding.EncodeToString([]byte("hunter22")): "b64 ***",
		`short "42" and '42' and 'x42'`:                                `short "***" and '***' and 'x42'`,
		"spec.replicas: Invalid value: 42: must be":                    "spec.replicas: Invalid value: ***: must be",
		"port=42, other 420 and 1425":                                  "port=***, other 420 and 1425",
		"ends with: 42":                                                "ends with: ***",
		"nothing secret":                                               "nothing secret",
	} {
		if got := m.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	if (&Masker{}).String("hunter22") != "hunter22" || (*Masker)(nil).String("x") != "x" {
		t.Error("an empty Masker changed a string")
	}
}

func TestErrKeepsTheChain(t *testing.T) {
	m := New("hunter22")
	base := fmt.Errorf("reading hunter22: %w", fs.ErrNotExist)
	err := m.Err(base)
	if strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("not masked: %v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the chain is lost")
	}
	clean := errors.New("nothing")
	if m.Err(clean) != clean || m.Err(nil) != nil {
		t.Fatal("an error without a secret was wrapped")
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	m := New("hunter22")
	log := slog.New(m.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log = log.With("pre", "hunter22-pre").WithGroup("g")
	log.Debug("message hunter22", "s", "x hunter22", "err", errors.New("e hunter22"), "n", 3,
		slog.Group("inner", "deep", "hunter22"), "any", []string{"hunter22"})
	out := buf.String()
	if strings.Contains(out, "hunter22") {
		t.Fatalf("log line not masked: %s", out)
	}
	if !strings.Contains(out, "n=3") || strings.Count(out, "***") != 6 {
		t.Fatalf("log line %s", out)
	}
}
