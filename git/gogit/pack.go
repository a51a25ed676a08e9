package gogit

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
)

// storePack stores the pack read from r into st (a filesystem storage
// whose git folder is gitDir), checking it with a packCheck on the way,
// then indexes it (see indexPack). A thin pack (one whose deltas may have
// bases that st holds rather than the pack) is completed with those bases
// first, as git's index-pack --fix-thin does.
//
// When stage is not nil, the pack's whole blobs are staged as they stream
// in (see blobStage).
//
// It returns the pack for reading objects straight from it (nil when the
// pack was empty); the caller closes it.
func storePack(ctx context.Context, st storage.Storer, gitDir string, r io.Reader, lim limits, thin bool, stage *blobStage) (*packBlobs, error) {
	packDir := filepath.Join(gitDir, "objects", "pack")
	tmp, err := os.CreateTemp(packDir, "tmp_pack_")
	if err != nil {
		return nil, err
	}
	stored := false
	defer func() {
		if !stored {
			tmp.Close()
			os.Remove(tmp.Name())
			os.Remove(tmp.Name() + ".idx")
		}
	}()
	check := newStagingPackCheck(lim, stage)
	out := &trailerWriter{w: bufio.NewWriterSize(tmp, 256<<10), h: sha1.New()}
	err = copyChecked(ctx, out, check, r)
	if cerr := check.Close(); err == nil {
		err = cerr
	}
	stage.finish(check) // the ids of the blobs it hashed
	if err == nil {
		err = out.w.Flush()
	}
	if err != nil {
		return nil, err
	}
	if !out.matches(check.checksum) {
		return nil, errors.New("malformed pack: checksum mismatch")
	}
	if check.count == 0 {
		return nil, nil
	}
	entries, checksum := check.entries, check.checksum
	if thin {
		var bases []plumbing.Hash
		for h := range check.bases {
			if !check.whole[h] && st.HasEncodedObject(h) == nil {
				bases = append(bases, h)
			}
		}
		if len(bases) > 0 {
			var added []packEntry
			if added, checksum, err = completePack(tmp, st, check.count, bases); err != nil {
				return nil, err
			}
			entries = append(entries, added...)
		}
	}
	ix, err := indexPack(ctx, tmp, entries, checksum, lim)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(packDir, "pack-"+checksum.String())
	idx := tmp.Name() + ".idx"
	if err := os.Rename(tmp.Name(), base+".pack"); err != nil {
		return nil, err
	}
	if err := os.Rename(idx, base+".idx"); err != nil {
		os.Remove(base + ".pack")
		return nil, err
	}
	stored = true
	if s, ok := st.(interface{ Reindex() }); ok {
		s.Reindex()
	}
	return &packBlobs{f: tmp, ix: ix}, nil
}

// trailerWriter writes a pack and hashes all of it but its last 20 bytes
// (the checksum the pack ends with).
type trailerWriter struct {
	w    *bufio.Writer
	h    hash.Hash
	tail [20]byte
	n    int // bytes in tail
}

func (t *trailerWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	p = p[:n]
	if len(p) >= 20 {
		t.h.Write(t.tail[:t.n])
		t.h.Write(p[:len(p)-20])
		t.n = copy(t.tail[:], p[len(p)-20:])
		return n, err
	}
	// Fewer than 20 new bytes: the oldest of the tail are hashed.
	if over := t.n + len(p) - 20; over > 0 {
		t.h.Write(t.tail[:over])
		t.n = copy(t.tail[:], t.tail[over:t.n])
	}
	t.n += copy(t.tail[t.n:], p)
	return n, err
}

func (t *trailerWriter) matches(sum plumbing.Hash) bool {
	return t.n == 20 && bytes.Equal(t.h.Sum(nil), sum[:]) && bytes.Equal(t.tail[:], sum[:])
}

// copyChecked copies r to w, each chunk through check first: a chunk check
// refuses is not written.
func copyChecked(ctx context.Context, w io.Writer, check *packCheck, r io.Reader) error {
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if _, cerr := check.Write(buf[:n]); cerr != nil {
				return cerr
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// completePack appends the objects bases (read from st) to the thin pack
// in f, which holds count objects, rewrites its object count and
// checksum, and returns the entries it added and the new checksum.
func completePack(f *os.File, st storer.EncodedObjectStorer, count uint32, bases []plumbing.Hash) ([]packEntry, plumbing.Hash, error) {
	var sum plumbing.Hash
	info, err := f.Stat()
	if err != nil {
		return nil, sum, err
	}
	end := info.Size() - 20
	if end < 12 {
		return nil, sum, errors.New("malformed pack: too short")
	}
	if err := f.Truncate(end); err != nil {
		return nil, sum, err
	}
	sort.Slice(bases, func(i, j int) bool { return bytes.Compare(bases[i][:], bases[j][:]) < 0 })
	var added []packEntry
	offset := end
	for _, h := range bases {
		obj, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, sum, fmt.Errorf("complete thin pack: base %s: %w", h, err)
		}
		var entry bytes.Buffer
		headerLen, err := writePackObject(&entry, obj)
		if err != nil {
			return nil, sum, err
		}
		if _, err := f.WriteAt(entry.Bytes(), offset); err != nil {
			return nil, sum, err
		}
		added = append(added, packEntry{offset: offset, data: offset + int64(headerLen), typ: packTypeOf(obj.Type()), size: uint64(obj.Size()), id: h})
		offset += int64(entry.Len())
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], count+uint32(len(bases)))
	if _, err := f.WriteAt(n[:], 8); err != nil {
		return nil, sum, err
	}
	h := sha1.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, offset)); err != nil {
		return nil, sum, err
	}
	copy(sum[:], h.Sum(nil))
	_, err = f.WriteAt(sum[:], offset)
	return added, sum, err
}

func packTypeOf(t plumbing.ObjectType) byte {
	switch t {
	case plumbing.CommitObject:
		return packCommit
	case plumbing.TreeObject:
		return packTree
	case plumbing.BlobObject:
		return packBlob
	}
	return packTag
}

// writePackObject writes obj as a whole (undeltified) pack entry and
// returns the length of its header.
func writePackObject(w io.Writer, obj plumbing.EncodedObject) (int, error) {
	switch obj.Type() {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	default:
		return 0, fmt.Errorf("complete thin pack: object %s of type %s", obj.Hash(), obj.Type())
	}
	size := uint64(obj.Size())
	header := []byte{packTypeOf(obj.Type())<<4 | byte(size&15)}
	for size >>= 4; size > 0; size >>= 7 {
		header[len(header)-1] |= 0x80
		header = append(header, byte(size&0x7f))
	}
	if _, err := w.Write(header); err != nil {
		return 0, err
	}
	r, err := obj.Reader()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	zw := zlib.NewWriter(w)
	if _, err := io.Copy(zw, r); err != nil {
		return 0, err
	}
	return len(header), zw.Close()
}

// removeTempPacks removes the half-written pack files a failed fetch left
// in the repository at gitDir (go-git keeps them when a pack is cut short).
func removeTempPacks(gitDir string) {
	for _, pattern := range []string{"tmp_pack_*", "tmp_thin_*"} {
		tmps, _ := filepath.Glob(filepath.Join(gitDir, "objects", "pack", pattern))
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
}
