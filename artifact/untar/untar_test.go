package untar_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/untar"
)

type ent struct {
	name, link, body string
	typ              byte
	size             int64 // header size when >= 0 and body is shorter or longer
	mode             int64
}

func file(name, body string) ent { return ent{name: name, body: body, typ: tar.TypeReg, size: -1} }
func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir, size: -1} }
func symlink(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeSymlink, size: -1}
}
func hardlink(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeLink, size: -1}
}

// makeTar writes entries with archive/tar, bypassing its checks where an
// entry's header must lie.
func makeTar(t testing.TB, gz bool, entries ...ent) []byte {
	t.Helper()
	var raw bytes.Buffer
	for _, e := range entries {
		var hb bytes.Buffer
		tw := tar.NewWriter(&hb)
		size := int64(len(e.body))
		if e.size >= 0 {
			size = e.size
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Size: size, Mode: mode, Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		// Only the header blocks are kept (Flush reports the missing body,
		// which is written by hand below with its padding).
		_ = tw.Flush()
		raw.Write(hb.Bytes())
		raw.WriteString(e.body)
		if pad := len(e.body) % 512; pad != 0 {
			raw.Write(make([]byte, 512-pad))
		}
	}
	raw.Write(make([]byte, 1024))
	if !gz {
		return raw.Bytes()
	}
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	zw.Write(raw.Bytes())
	zw.Close()
	return out.Bytes()
}

// listTree returns "path type [content|target]" lines for everything under dir.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		info, _ := d.Info()
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		case d.IsDir():
			out = append(out, rel+"/ "+info.Mode().Perm().String())
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+" "+info.Mode().Perm().String()+" "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestExtractRoundTrip(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for name, body := range map[string]string{"a/b/c.yaml": "c", "x.yaml": "x", "bin/run": "#!"} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "bin/run"), 0o700)
	os.Symlink("../x.yaml", filepath.Join(src, "a/link"))
	os.Symlink("a/b", filepath.Join(src, "dirlink"))
	var buf bytes.Buffer
	if _, err := archive.Build(context.Background(), &buf, src, archive.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, existing := range []bool{false, true} {
		dst := filepath.Join(t.TempDir(), "out")
		if existing {
			os.Mkdir(dst, 0o755)
		}
		res, err := untar.Extract(context.Background(), bytes.NewReader(buf.Bytes()), dst, untar.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Entries != 8 {
			t.Errorf("entries = %d, want 8", res.Entries)
		}
		want := []string{"a/ -rwxr-xr-x", "a/b/ -rwxr-xr-x", "a/b/c.yaml -rw-r--r-- c", "a/link -> ../x.yaml", "bin/ -rwxr-xr-x", "bin/run -rwxr-xr-x #!", "dirlink -> a/b", "x.yaml -rw-r--r-- x"}
		if diff := cmp.Diff(want, listTree(t, dst)); diff != "" {
			t.Errorf("tree (-want +got):\n%s", diff)
		}
		assertNoLeftovers(t, filepath.Dir(dst), "out")
	}

	// Plain tar and hard links.
	dst := filepath.Join(t.TempDir(), "plain")
	data := makeTar(t, false, dir("./"), file("./f", "data"), hardlink("g", "f"))
	if _, err := untar.Extract(context.Background(), bytes.NewReader(data), dst, untar.Options{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"f -rw-r--r-- data", "g -rw-r--r-- data"}, listTree(t, dst)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

// assertNoLeftovers checks that parent holds nothing but the listed names.
func assertNoLeftovers(t testing.TB, parent string, allowed ...string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		found := false
		for _, a := range allowed {
			found = found || e.Name() == a
		}
		if !found {
			t.Errorf("left behind in %s: %s", parent, e.Name())
		}
	}
}

var (
	manyOnce  sync.Once
	manyBytes []byte
)

func manyEntries(t testing.TB) []byte {
	manyOnce.Do(func() {
		// One header made by archive/tar, then copied with its name and
		// checksum patched: far cheaper than 100,000 WriteHeader calls.
		var hb bytes.Buffer
		tw := tar.NewWriter(&hb)
		if err := tw.WriteHeader(&tar.Header{Name: "f000000", Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		tw.Flush()
		tmpl := append([]byte(nil), hb.Bytes()[:512]...)
		clear(tmpl[0:100])              // name
		copy(tmpl[148:156], "        ") // checksum field counts as spaces
		base := 0
		for _, c := range tmpl {
			base += int(c)
		}
		raw := make([]byte, 0, 100_000*512+1024)
		for i := range 100_000 {
			off := len(raw)
			raw = append(raw, tmpl...)
			blk := raw[off : off+512]
			name := fmt.Sprintf("f%06d", i)
			copy(blk[0:100], name)
			sum := base
			for j := 0; j < len(name); j++ {
				sum += int(name[j])
			}
			copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
		}
		// Plain tar: compression adds nothing to an entry-count test.
		manyBytes = append(raw, make([]byte, 1024)...)
	})
	return manyBytes
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestHostileArchives(t *testing.T) {
	t.Parallel()
	zeros := strings.Repeat("\x00", 100<<10)
	var bomb []ent
	for i := range 20 {
		bomb = append(bomb, file("z"+itoa(i), zeros))
	}
	tests := []struct {
		name    string
		data    func(t testing.TB) []byte
		opts    untar.Options
		wantErr error
	}{
		{"dot-dot slip", func(t testing.TB) []byte { return makeTar(t, true, file("ok", "x"), file("../evil", "x")) }, untar.Options{}, untar.ErrUnsafePath},
		{"nested slip", func(t testing.TB) []byte { return makeTar(t, true, file("a/../../evil", "x")) }, untar.Options{}, untar.ErrUnsafePath},
		{"absolute path", func(t testing.TB) []byte { return makeTar(t, true, file("/tmp/evil", "x")) }, untar.Options{}, untar.ErrUnsafePath},
		{"backslash", func(t testing.TB) []byte { return makeTar(t, true, file(`..\evil`, "x")) }, untar.Options{}, untar.ErrUnsafePath},
		{"symlink to / then write through it", func(t testing.TB) []byte {
			return makeTar(t, true, symlink("root", "/"), file("root/tmp/evil", "x"))
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"symlink up and out", func(t testing.TB) []byte { return makeTar(t, true, symlink("a/l", "../../etc")) }, untar.Options{}, untar.ErrUnsafeLink},
		{"symlink chain out", func(t testing.TB) []byte {
			return makeTar(t, true, file("x", "x"), symlink("s", "."), symlink("s2", "s/.."), symlink("l", "s2/x"))
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"dangling symlink through ..", func(t testing.TB) []byte { return makeTar(t, true, dir("a/"), symlink("l", "a/../missing")) }, untar.Options{}, untar.ErrUnsafeLink},
		{"dangling symlink through a link and ..", func(t testing.TB) []byte {
			return makeTar(t, true, symlink("s", "."), symlink("l", "s/missing/../../x"))
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"symlink then directory through it", func(t testing.TB) []byte {
			return makeTar(t, true, dir("d/"), symlink("l", "d"), file("l/f", "x"))
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"file then a directory of the same name", func(t testing.TB) []byte {
			return makeTar(t, true, file("a", "x"), file("a/b", "y"))
		}, untar.Options{}, untar.ErrUnsafePath},
		{"directory then a file of the same name", func(t testing.TB) []byte {
			return makeTar(t, true, file("a/b", "y"), file("a", "x"))
		}, untar.Options{}, untar.ErrUnsafePath},
		{"duplicate symlink, the last one escaping", func(t testing.TB) []byte {
			return makeTar(t, true, file("f", "x"), symlink("l", "f"), symlink("l", "../../etc"))
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"duplicate file replaced by an escaping symlink", func(t testing.TB) []byte {
			return makeTar(t, true, file("f", "x"), symlink("f", "/etc/passwd"))
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"chain longer than the kernel follows", func(t testing.TB) []byte {
			return makeTar(t, true, chain(untar.MaxSymlinkHops+1)...)
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"symlink loop", func(t testing.TB) []byte { return makeTar(t, true, symlink("a", "b"), symlink("b", "a")) }, untar.Options{}, untar.ErrUnsafeLink},
		{"garbage after the gzip stream", func(t testing.TB) []byte {
			return append(makeTar(t, true, file("f", "x")), "trailing garbage"...)
		}, untar.Options{}, nil},
		{"zero padding after the gzip stream past the limit", func(t testing.TB) []byte {
			return append(makeTar(t, true, file("f", "x")), make([]byte, 3<<20)...)
		}, untar.Options{MaxBytes: 1 << 20}, untar.ErrLimitExceeded},
		{"hard link out", func(t testing.TB) []byte { return makeTar(t, true, hardlink("h", "../../etc/passwd")) }, untar.Options{}, untar.ErrUnsafeLink},
		{"hard link absolute", func(t testing.TB) []byte { return makeTar(t, true, hardlink("h", "/etc/passwd")) }, untar.Options{}, untar.ErrUnsafeLink},
		{"hard link to symlink", func(t testing.TB) []byte {
			return makeTar(t, true, file("f", "x"), symlink("l", "f"), hardlink("h", "l"))
		}, untar.Options{}, untar.ErrUnsafeLink},
		{"header size larger than data", func(t testing.TB) []byte {
			e := file("f", "short")
			e.size = 1 << 20
			return makeTar(t, true, e)
		}, untar.Options{}, nil},
		{"header size smaller than data", func(t testing.TB) []byte {
			e := file("f", strings.Repeat("A", 4096))
			e.size = 10
			return makeTar(t, true, e, file("g", "x"))
		}, untar.Options{}, nil},
		{"bomb past total limit", func(t testing.TB) []byte { return makeTar(t, true, bomb...) }, untar.Options{MaxBytes: 1 << 20}, untar.ErrLimitExceeded},
		{"file past file limit", func(t testing.TB) []byte { return makeTar(t, true, file("big", zeros)) }, untar.Options{MaxFileBytes: 1000}, untar.ErrLimitExceeded},
		{"100,000 entries", manyEntries, untar.Options{MaxEntries: 1000}, untar.ErrLimitExceeded},
		{"long path", func(t testing.TB) []byte { return makeTar(t, true, file(strings.Repeat("a/", 600)+"f", "x")) }, untar.Options{}, untar.ErrLimitExceeded},
		{"char device", func(t testing.TB) []byte { return makeTar(t, true, ent{name: "dev", typ: tar.TypeChar, size: -1}) }, untar.Options{}, untar.ErrUnsupportedEntry},
		{"block device", func(t testing.TB) []byte { return makeTar(t, true, ent{name: "dev", typ: tar.TypeBlock, size: -1}) }, untar.Options{}, untar.ErrUnsupportedEntry},
		{"fifo", func(t testing.TB) []byte { return makeTar(t, true, ent{name: "p", typ: tar.TypeFifo, size: -1}) }, untar.Options{}, untar.ErrUnsupportedEntry},
		{"not an archive", func(t testing.TB) []byte {
			return []byte("hello, this is not a tar file at all, not at all, really not")
		}, untar.Options{}, nil},
		{"corrupt gzip", func(t testing.TB) []byte {
			b := makeTar(t, true, file("f", "x"))
			b[len(b)-5] ^= 0xff // CRC
			return b
		}, untar.Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data(t)
			for _, existing := range []bool{false, true} {
				parent := t.TempDir()
				dst := filepath.Join(parent, "dst")
				if existing {
					os.Mkdir(dst, 0o700)
				}
				_, err := untar.Extract(context.Background(), bytes.NewReader(data), dst, tt.opts)
				if err == nil {
					t.Fatal("extraction succeeded, want an error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "untar: ") {
					t.Errorf("error %q lacks context", err)
				}
				if existing {
					if got := listTree(t, dst); len(got) != 0 {
						t.Errorf("destination changed: %v", got)
					}
					assertNoLeftovers(t, parent, "dst")
				} else {
					assertNoLeftovers(t, parent)
				}
			}
		})
	}
}

func TestSkipUnsafeLinks(t *testing.T) {
	t.Parallel()
	data := makeTar(t, true, symlink("root", "/"), file("root/tmp/evil", "x"), file("f", "f"), symlink("ok", "f"),
		hardlink("h", "../../etc/passwd"), symlink("s", "."), symlink("l", "s/../f"))
	dst := filepath.Join(t.TempDir(), "dst")
	res, err := untar.Extract(context.Background(), bytes.NewReader(data), dst, untar.Options{SkipUnsafeLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"root", "h", "l"}, res.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	want := []string{"f -rw-r--r-- f", "ok -> f", "root/ -rwxr-xr-x", "root/tmp/ -rwxr-xr-x", "root/tmp/evil -rw-r--r-- x", "s -> ."}
	if diff := cmp.Diff(want, listTree(t, dst)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

func TestDestinationNotEmpty(t *testing.T) {
	t.Parallel()
	dst := t.TempDir()
	os.WriteFile(filepath.Join(dst, "keep"), []byte("mine"), 0o644)
	_, err := untar.Extract(context.Background(), bytes.NewReader(makeTar(t, true, file("f", "x"))), dst, untar.Options{})
	if !errors.Is(err, untar.ErrDestinationNotEmpty) {
		t.Fatalf("error = %v", err)
	}
	if diff := cmp.Diff([]string{"keep -rw-r--r-- mine"}, listTree(t, dst)); diff != "" {
		t.Error(diff)
	}
}

func TestExtractCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := t.TempDir()
	_, err := untar.Extract(ctx, bytes.NewReader(makeTar(t, true, file("f", "x"))), filepath.Join(parent, "d"), untar.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v", err)
	}
	assertNoLeftovers(t, parent)
}

func FuzzExtract(f *testing.F) {
	f.Add(makeTar(f, true, file("a", "b"), dir("d/"), symlink("l", "a"), hardlink("h", "a")))
	f.Add(makeTar(f, false, file("../x", "b")))
	f.Add(makeTar(f, true, symlink("s", "."), symlink("l", "s/../x")))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "dst")
		_, err := untar.Extract(context.Background(), bytes.NewReader(data), dst,
			untar.Options{MaxBytes: 1 << 20, MaxEntries: 100})
		if err != nil {
			assertNoLeftovers(t, parent)
			return
		}
		assertNoLeftovers(t, parent, "dst")
		// Every link must resolve inside the destination.
		root, err := os.OpenRoot(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink != 0 {
				rel, _ := filepath.Rel(dst, p)
				_, err := root.Stat(rel)
				target, _ := os.Readlink(p)
				dangling := errors.Is(err, fs.ErrNotExist) && !strings.Contains("/"+target+"/", "/../")
				if err != nil && !dangling {
					t.Errorf("link %s -> %s does not resolve inside: %v", rel, target, err)
				}
			}
			return nil
		})
	})
}

func TestDanglingLinkWithoutDotDotIsKept(t *testing.T) {
	t.Parallel()
	dst := filepath.Join(t.TempDir(), "dst")
	data := makeTar(t, true, file("a/f", "x"), symlink("a/l", "ignored.yaml"), symlink("d", "a/sub/none"))
	if _, err := untar.Extract(context.Background(), bytes.NewReader(data), dst, untar.Options{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"a/ -rwxr-xr-x", "a/f -rw-r--r-- x", "a/l -> ignored.yaml", "d -> a/sub/none"}
	if diff := cmp.Diff(want, listTree(t, dst)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

// rawHeader returns a 512-byte header block with the given type flag,
// including types archive/tar refuses to write by hand.
func rawHeader(t testing.TB, name string, typ byte, size int64) []byte {
	t.Helper()
	var hb bytes.Buffer
	tw := tar.NewWriter(&hb)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	_ = tw.Flush()
	blk := append([]byte(nil), hb.Bytes()[:512]...)
	blk[156] = typ
	copy(blk[148:156], "        ")
	sum := 0
	for _, c := range blk {
		sum += int(c)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return blk
}

func pad(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// TestSparseBomb feeds PAX sparse files whose holes expand far beyond the
// few bytes in the stream: the written-bytes budget must stop them.
func TestSparseBomb(t *testing.T) {
	t.Parallel()
	var raw []byte
	for i := range 4 {
		name := fmt.Sprintf("sparse%d", i)
		const real = 600 << 10 // each under the per-file limit, together over the total
		rec := func(k, v string) string {
			s := " " + k + "=" + v + "\n"
			n := len(s)
			for len(fmt.Sprint(n))+len(s) != n {
				n = len(fmt.Sprint(n)) + len(s)
			}
			return fmt.Sprint(n) + s
		}
		records := rec("GNU.sparse.major", "1") + rec("GNU.sparse.minor", "0") + rec("GNU.sparse.name", name) + rec("GNU.sparse.realsize", fmt.Sprint(real))
		raw = append(raw, rawHeader(t, "PaxHeaders/"+name, tar.TypeXHeader, int64(len(records)))...)
		raw = append(raw, pad([]byte(records))...)
		sparseMap := pad([]byte(fmt.Sprintf("1\n%d\n1\n", real-1)))
		raw = append(raw, rawHeader(t, name, tar.TypeReg, int64(len(sparseMap)+1))...)
		raw = append(raw, pad(append(sparseMap, 'x'))...)
	}
	raw = append(raw, make([]byte, 1024)...)
	if len(raw) > 20<<10 {
		t.Fatalf("fixture is %d bytes, want a small stream", len(raw))
	}
	// The fixture really expands: with room enough it extracts.
	parent := t.TempDir()
	if _, err := untar.Extract(context.Background(), bytes.NewReader(raw), filepath.Join(parent, "ok"), untar.Options{}); err != nil {
		t.Fatalf("sparse fixture does not extract: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(parent, "ok", "sparse0")); err != nil || fi.Size() != 600<<10 {
		t.Fatalf("sparse file not expanded: %v %v", fi, err)
	}
	_, err := untar.Extract(context.Background(), bytes.NewReader(raw), filepath.Join(parent, "dst"), untar.Options{MaxBytes: 1 << 20})
	if !errors.Is(err, untar.ErrLimitExceeded) {
		t.Fatalf("error = %v, want ErrLimitExceeded", err)
	}
	assertNoLeftovers(t, parent, "ok")
}
