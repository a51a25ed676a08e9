package pgzip

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"
)

func TestDeterministicAndValid(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	text := bytes.Repeat([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 4000)
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := map[string][]byte{
		"empty":    nil,
		"small":    []byte("hello"),
		"exact":    bytes.Repeat([]byte{'a'}, 64<<10),
		"text":     text,
		"mixed":    append(append([]byte{}, random...), text...),
		"sub-dict": bytes.Repeat([]byte("xyz"), 5000),
	}
	for name, in := range inputs {
		var ref []byte
		for _, workers := range []int{1, 3, 8} {
			var buf bytes.Buffer
			z, err := NewWriter(&buf, 6, 64<<10, workers)
			if err != nil {
				t.Fatal(err)
			}
			// Odd write sizes so block boundaries never line up with writes.
			for p := in; len(p) > 0; {
				k := min(len(p), 7777)
				if _, err := z.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = buf.Bytes()
			} else if !bytes.Equal(ref, buf.Bytes()) {
				t.Fatalf("%s: output with %d workers differs from 1 worker", name, workers)
			}
			zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%s: stdlib gzip reader: %v", name, err)
			}
			if !bytes.Equal(got, in) {
				t.Fatalf("%s: round trip differs", name)
			}
			if zr.Header.Name != "" || !zr.Header.ModTime.IsZero() || zr.Header.OS != 255 {
				t.Fatalf("%s: header not fixed: %+v", name, zr.Header)
			}
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, io.ErrClosedPipe
	}
	w.n--
	return len(p), nil
}

func TestWriteErrorSurfaces(t *testing.T) {
	t.Parallel()
	z, err := NewWriter(&failWriter{n: 2}, 6, 32<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("abc"), 100000)
	_, werr := z.Write(data)
	cerr := z.Close()
	if werr == nil && cerr == nil {
		t.Fatal("expected the writer's error")
	}
}
