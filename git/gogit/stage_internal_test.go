package gogit

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// testStage returns a stage in a fresh folder, removed when the test ends.
func testStage(t *testing.T, maxFiles, maxBytes int64) *blobStage {
	t.Helper()
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.Mkdir(".git", 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := newBlobStage(root, maxFiles, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.remove() })
	return s
}

func blobID(data []byte) plumbing.Hash {
	h := plumbing.NewHasher(plumbing.BlobObject, int64(len(data)))
	_, _ = h.Write(data)
	return h.Sum()
}

// TestBlobStage: the stage writes the whole blobs it accepts, within its
// bounds of files and bytes and maxStagedBlob, and gives every whole
// object of the pack its id, staged or not; a staged file is taken once.
func TestBlobStage(t *testing.T) {
	t.Parallel()
	blobs := [][]byte{
		bytes.Repeat([]byte("a"), 1000),
		bytes.Repeat([]byte("b"), 1000),
		bytes.Repeat([]byte("c"), 1000),
		bytes.Repeat([]byte("d"), maxStagedBlob+1), // too large to stage
		bytes.Repeat([]byte("e"), 1000),
		bytes.Repeat([]byte("a"), 1000), // the same blob again
	}
	lim := testLimits()
	lim.objectSize = 1 << 20
	cases := []struct {
		name               string
		maxFiles, maxBytes int64
		wantStaged         int // of blobs, in pack order
	}{
		{name: "unbounded", maxFiles: 100, maxBytes: 1 << 30, wantStaged: 4},
		{name: "MaxFiles", maxFiles: 2, maxBytes: 1 << 30, wantStaged: 2},
		{name: "MaxCheckoutSize", maxFiles: 100, maxBytes: 2500, wantStaged: 2},
		{name: "nothing left", maxFiles: 0, maxBytes: 0, wantStaged: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPack(uint32(len(blobs) + 1))
			for _, b := range blobs {
				p.object(packBlob, uint64(len(b)), b)
			}
			first := blobID(blobs[0])
			tree := []byte("100644 a\x00" + string(first[:]))
			p.object(packTree, uint64(len(tree)), tree)
			s := testStage(t, tc.maxFiles, tc.maxBytes)
			check, _, err := checkPackStaging(p.bytes(), lim, 4096, s)
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range blobs {
				if got := check.entries[i].id; got != blobID(b) {
					t.Errorf("blob %d: id %s, want %s", i, got, blobID(b))
				}
			}
			treeID := plumbing.ComputeHash(plumbing.TreeObject, tree)
			if got := check.entries[len(blobs)].id; got != treeID || !check.whole[treeID] || len(check.whole) != len(blobs) {
				t.Errorf("tree id %s (want %s), %d whole objects", got, treeID, len(check.whole))
			}
			staged := 0
			err = filepath.WalkDir(filepath.Join(s.root.Name(), stageDir), func(_ string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					staged++
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if staged != tc.wantStaged {
				t.Errorf("%d files staged, want %d", staged, tc.wantStaged)
			}
			for _, b := range blobs[:3] {
				f, ok := s.take(blobID(b))
				if !ok {
					continue
				}
				got, err := s.root.ReadFile(f.path())
				if err != nil || !bytes.Equal(got, b) {
					t.Errorf("staged %s: %d bytes, %v", f.path(), len(got), err)
				}
				if _, again := s.take(blobID(b)); again {
					t.Errorf("blob %s taken twice", blobID(b))
				}
			}
			if _, ok := s.take(blobID(blobs[3])); ok {
				t.Error("a blob larger than maxStagedBlob was staged")
			}
			if err := s.remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path.Join(s.root.Name(), stageDir)); !os.IsNotExist(err) {
				t.Errorf("stage not removed: %v", err)
			}
		})
	}
}
