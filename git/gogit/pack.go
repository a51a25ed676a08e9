package gogit

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
)

// storePack stores the pack read from r into st (a filesystem storage
// whose git folder is gitDir), checking it with a packCheck on the way. A
// thin pack (one whose deltas may have bases that st holds rather than the
// pack) is received into a file first and completed with those bases, as
// git's index-pack --fix-thin does, since go-git indexes self-contained
// packs only.
func storePack(ctx context.Context, st storage.Storer, gitDir string, r io.Reader, lim limits, thin bool) error {
	pw, ok := st.(storer.PackfileWriter)
	if !ok {
		return errors.New("this storage cannot receive a pack file")
	}
	if !thin {
		w, err := pw.PackfileWriter()
		if err != nil {
			return err
		}
		check := newPackCheck(lim, false)
		err = copyChecked(ctx, w, check, r)
		if cerr := check.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			// The storage never received the pack whole: closing it now
			// fails its indexing early, before any object is loaded.
			_ = w.Close()
			return err
		}
		return w.Close()
	}
	tmp, err := os.CreateTemp(filepath.Join(gitDir, "objects", "pack"), "tmp_thin_")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	check := newPackCheck(lim, true)
	err = copyChecked(ctx, tmp, check, r)
	if cerr := check.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	var bases []plumbing.Hash
	for h := range check.bases {
		if !check.whole[h] && st.HasEncodedObject(h) == nil {
			bases = append(bases, h)
		}
	}
	if len(bases) > 0 {
		if err := completePack(tmp, st, check.count, bases); err != nil {
			return err
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	w, err := pw.PackfileWriter()
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, tmp); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
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
// in f, which holds count objects, and rewrites its object count and
// checksum.
func completePack(f *os.File, st storer.EncodedObjectStorer, count uint32, bases []plumbing.Hash) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	end := info.Size() - 20
	if end < 12 {
		return errors.New("malformed pack: too short")
	}
	if err := f.Truncate(end); err != nil {
		return err
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return err
	}
	sort.Slice(bases, func(i, j int) bool { return bytes.Compare(bases[i][:], bases[j][:]) < 0 })
	for _, h := range bases {
		obj, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return fmt.Errorf("complete thin pack: base %s: %w", h, err)
		}
		if err := writePackObject(f, obj); err != nil {
			return err
		}
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], count+uint32(len(bases)))
	if _, err := f.WriteAt(n[:], 8); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sum := sha1.New()
	if _, err := io.Copy(sum, f); err != nil {
		return err
	}
	_, err = f.Write(sum.Sum(nil))
	return err
}

// writePackObject appends obj to a pack as a whole (undeltified) entry.
func writePackObject(w io.Writer, obj plumbing.EncodedObject) error {
	var t byte
	switch obj.Type() {
	case plumbing.CommitObject:
		t = packCommit
	case plumbing.TreeObject:
		t = packTree
	case plumbing.BlobObject:
		t = packBlob
	case plumbing.TagObject:
		t = packTag
	default:
		return fmt.Errorf("complete thin pack: object %s of type %s", obj.Hash(), obj.Type())
	}
	size := uint64(obj.Size())
	header := []byte{t<<4 | byte(size&15)}
	for size >>= 4; size > 0; size >>= 7 {
		header[len(header)-1] |= 0x80
		header = append(header, byte(size&0x7f))
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	zw := zlib.NewWriter(w)
	if _, err := io.Copy(zw, r); err != nil {
		return err
	}
	return zw.Close()
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
