package gittest

import (
	"bytes"
	"testing"
)

func FuzzParseUploadRequest(f *testing.F) {
	f.Add([]byte("0032want 0123456789abcdef0123456789abcdef01234567\n00000009done\n"))
	f.Add([]byte("0000"))
	f.Add([]byte("000cdeepen 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = parseUploadRequest(bytes.NewReader(data)) })
}
