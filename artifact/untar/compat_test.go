package untar_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact/untar"
)

// chain returns a file and n symbolic links, each pointing at the one
// before: resolving the last one takes n hops.
func chain(n int) []ent {
	out := []ent{file("f", "x")}
	prev := "f"
	for i := range n {
		name := fmt.Sprintf("l%02d", i)
		out = append(out, symlink(name, prev))
		prev = name
	}
	return out
}

// TestAcceptedAsGNUTarDoes: archives that real tools produce and GNU tar
// extracts are extracted, with the same tree GNU tar makes — every safety
// rule kept.
func TestAcceptedAsGNUTarDoes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data func(t testing.TB) []byte
	}{
		{"duplicate file, the last one wins", func(t testing.TB) []byte {
			return makeTar(t, true, file("f", "first"), file("d/g", "one"), file("f", "second"), file("d/g", "two"))
		}},
		{"file replaced by a symlink", func(t testing.TB) []byte {
			return makeTar(t, true, file("t", "target"), file("f", "x"), symlink("f", "t"))
		}},
		{"symlink replaced by a file", func(t testing.TB) []byte {
			return makeTar(t, true, file("t", "target"), symlink("f", "t"), file("f", "x"))
		}},
		{"hard link keeps the content it was made with", func(t testing.TB) []byte {
			return makeTar(t, true, file("f", "old"), hardlink("h", "f"), file("f", "new"))
		}},
		{"duplicate directory", func(t testing.TB) []byte {
			return makeTar(t, true, dir("d/"), file("d/a", "a"), dir("d/"), file("d/b", "b"))
		}},
		{"zero padding after the gzip stream", func(t testing.TB) []byte {
			return append(makeTar(t, true, file("f", "x")), make([]byte, 10240)...)
		}},
		{"two gzip members", func(t testing.TB) []byte {
			// gzip a b > x.gz concatenates members; one tar stream split
			// across them decompresses as one.
			whole := makeTar(t, false, file("a", strings.Repeat("a", 3000)), file("b", "b"))
			return append(gzipped(t, whole[:1000]), gzipped(t, whole[1000:])...)
		}},
		{"a long chain of links that stays inside", func(t testing.TB) []byte {
			return makeTar(t, true, chain(untar.MaxSymlinkHops)...)
		}},
		{"links through a link to a directory", func(t testing.TB) []byte {
			return makeTar(t, true, file("a/b/f", "x"), symlink("up", "a/b"), symlink("l", "up/../b/f"))
		}},
	}
	gnu, err := exec.LookPath("tar")
	if err != nil {
		t.Log("GNU tar not found: extracting without comparing")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data(t)
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := untar.Extract(context.Background(), bytes.NewReader(data), dst, untar.Options{}); err != nil {
				t.Fatal(err)
			}
			got := listTree(t, dst)
			if gnu == "" {
				return
			}
			ref := t.TempDir()
			cmd := exec.Command(gnu, "-xzf", "-", "-C", ref)
			cmd.Stdin = bytes.NewReader(data)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GNU tar refuses it too: %v\n%s", err, out)
			}
			normaliseModes(t, ref)
			if diff := cmp.Diff(listTree(t, ref), got); diff != "" {
				t.Errorf("tree differs from GNU tar's (-gnu +untar):\n%s", diff)
			}
		})
	}
}

// normaliseModes gives a GNU tar tree the modes Extract writes.
func normaliseModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestNoLimit: MaxBytes and MaxFileBytes of -1 are no limit at all: a file
// larger than every default is written whole.
func TestNoLimit(t *testing.T) {
	t.Parallel()
	const size = untar.DefaultMaxBytes + 5<<20
	pr, pw := io.Pipe()
	seed := rand.Uint64()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Size: size, Mode: 0o644})
		if err == nil {
			_, err = io.CopyN(tw, pseudoRandom(seed), size)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	dst := filepath.Join(t.TempDir(), "dst")
	res, err := untar.Extract(context.Background(), pr, dst, untar.Options{MaxBytes: -1, MaxFileBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dst, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(compareWriter{want: pseudoRandom(seed)}, f)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || res.Bytes < size {
		t.Errorf("wrote %d bytes (read %d), want %d", n, res.Bytes, size)
	}
}

// pseudoRandom is a reproducible stream of bytes that does not compress.
func pseudoRandom(seed uint64) io.Reader { return &prng{r: rand.New(rand.NewPCG(seed, seed))} }

type prng struct{ r *rand.Rand }

func (p *prng) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.r.Uint32())
	}
	return len(b), nil
}

// compareWriter fails at the first block that differs from want.
type compareWriter struct {
	want io.Reader
}

func (c compareWriter) Write(p []byte) (int, error) {
	exp := make([]byte, len(p))
	if _, err := io.ReadFull(c.want, exp); err != nil {
		return 0, err
	}
	if !bytes.Equal(exp, p) {
		return 0, errors.New("content differs from what was archived")
	}
	return len(p), nil
}
