package gogit

import (
	"bufio"
	"container/list"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/klauspost/compress/zlib"
)

const (
	// maxDeltaDepth bounds a delta chain, as git's pack-objects does.
	maxDeltaDepth = 4095
	// deltaCacheSize bounds the resolved objects kept while resolving
	// deltas, in bytes.
	deltaCacheSize = 32 << 20
)

// indexPack writes the index of the pack file f (complete, with checksum
// sum) beside it, as f's name + ".idx". The ids of whole objects were
// computed while the pack streamed in (packCheck inflates each once);
// deltas are resolved here, each chain from its base, with the bases most
// recently built kept in a bounded cache, so memory stays within a few
// times limits.objectSize. This replaces go-git's indexer, which inflates
// every object twice more and loads each whole into memory.
func indexPack(ctx context.Context, f *os.File, entries []packEntry, sum plumbing.Hash, lim limits) (*indexer, error) {
	ix := &indexer{f: f, entries: entries, byOffset: make(map[int64]int, len(entries)), byID: make(map[plumbing.Hash]int, len(entries)), cache: newContentCache(deltaCacheSize)}
	for i, e := range entries {
		ix.byOffset[e.offset] = i
		if e.typ < packOFSDelta {
			ix.byID[e.id] = i
		}
	}
	for i := range entries {
		if entries[i].typ < packOFSDelta {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		typ, content, err := ix.content(i)
		if err != nil {
			return nil, err
		}
		h := plumbing.NewHasher(typ, int64(len(content)))
		_, _ = h.Write(content)
		entries[i].id = h.Sum()
		ix.byID[entries[i].id] = i
	}
	crcs, err := ix.crcs()
	if err != nil {
		return nil, err
	}
	w := new(idxfile.Writer)
	_ = w.OnHeader(uint32(len(entries)))
	for i, e := range entries {
		w.Add(e.id, uint64(e.offset), crcs[i])
	}
	if err := w.OnFooter(sum); err != nil {
		return nil, err
	}
	idx, err := w.Index()
	if err != nil {
		return nil, err
	}
	out, err := os.Create(f.Name() + ".idx")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriter(out)
	if _, err := idxfile.NewEncoder(bw).Encode(idx); err != nil {
		out.Close()
		os.Remove(out.Name())
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		os.Remove(out.Name())
		return nil, err
	}
	return ix, out.Close()
}

type indexer struct {
	f        *os.File
	entries  []packEntry
	byOffset map[int64]int
	byID     map[plumbing.Hash]int
	cache    *contentCache
	zr       io.ReadCloser // reused
	br       *bufio.Reader // reused
}

// content returns the type and content of entry i: a whole object is
// inflated, a delta is applied to its base, itself built the same way.
func (ix *indexer) content(i int) (plumbing.ObjectType, []byte, error) {
	chain := []int{i}
	var typ plumbing.ObjectType
	var content []byte
	for {
		e := ix.entries[chain[len(chain)-1]]
		if t, c, ok := ix.cache.get(e.offset); ok {
			typ, content = t, c
			chain = chain[:len(chain)-1]
			break
		}
		if e.typ < packOFSDelta {
			data, err := ix.inflate(e)
			if err != nil {
				return 0, nil, err
			}
			typ, content = packType(e.typ), data
			chain = chain[:len(chain)-1]
			break
		}
		if len(chain) > maxDeltaDepth {
			return 0, nil, malformed(fmt.Sprintf("delta chain longer than %d", maxDeltaDepth), nil)
		}
		var base int
		var ok bool
		if e.typ == packOFSDelta {
			base, ok = ix.byOffset[e.base]
		} else {
			base, ok = ix.byID[e.ref]
		}
		if !ok || base == chain[len(chain)-1] {
			return 0, nil, malformed(fmt.Sprintf("the base of the delta at %d is missing", e.offset), nil)
		}
		chain = append(chain, base)
	}
	for j := len(chain) - 1; j >= 0; j-- {
		e := ix.entries[chain[j]]
		delta, err := ix.inflate(e)
		if err != nil {
			return 0, nil, err
		}
		if content, err = packfile.PatchDelta(content, delta); err != nil {
			return 0, nil, malformed(fmt.Sprintf("delta at %d: %v", e.offset, err), nil)
		}
		ix.cache.put(e.offset, typ, content)
	}
	return typ, content, nil
}

// inflate reads the data of entry e (whose size packCheck bounded).
func (ix *indexer) inflate(e packEntry) ([]byte, error) {
	sr := io.NewSectionReader(ix.f, e.data, 1<<62)
	if ix.br == nil {
		ix.br = bufio.NewReaderSize(sr, 32<<10)
	} else {
		ix.br.Reset(sr)
	}
	var err error
	if ix.zr == nil {
		ix.zr, err = zlib.NewReader(ix.br)
	} else {
		err = ix.zr.(zlib.Resetter).Reset(ix.br, nil)
	}
	if err != nil {
		return nil, malformed("object data", err)
	}
	data := make([]byte, e.size)
	if _, err := io.ReadFull(ix.zr, data); err != nil {
		return nil, malformed("object data", err)
	}
	return data, nil
}

// crcs returns the CRC-32 of every entry's bytes in the pack, as the index
// records them.
func (ix *indexer) crcs() ([]uint32, error) {
	info, err := ix.f.Stat()
	if err != nil {
		return nil, err
	}
	end := info.Size() - 20
	// Entries are in pack order, those a thin pack was completed with
	// last: offsets only grow.
	out := make([]uint32, len(ix.entries))
	r := bufio.NewReaderSize(io.NewSectionReader(ix.f, 0, end), 256<<10)
	buf := make([]byte, 32<<10)
	pos := int64(0)
	for i := range ix.entries {
		start := ix.entries[i].offset
		stop := end
		if i+1 < len(ix.entries) {
			stop = ix.entries[i+1].offset
		}
		if start < pos || stop < start {
			return nil, malformed("entry offsets", nil)
		}
		if _, err := r.Discard(int(start - pos)); err != nil {
			return nil, err
		}
		h := crc32.NewIEEE()
		if n, err := io.CopyBuffer(h, io.LimitReader(r, stop-start), buf); err != nil || n != stop-start {
			return nil, malformed("entry data", err)
		}
		out[i] = h.Sum32()
		pos = stop
	}
	return out, nil
}

// contentCache keeps the most recently resolved objects, up to a number of
// bytes.
type contentCache struct {
	max, size int
	order     *list.List
	items     map[int64]*list.Element
}

type cached struct {
	offset  int64
	typ     plumbing.ObjectType
	content []byte
}

func newContentCache(max int) *contentCache {
	return &contentCache{max: max, order: list.New(), items: map[int64]*list.Element{}}
}

func (c *contentCache) get(offset int64) (plumbing.ObjectType, []byte, bool) {
	el, ok := c.items[offset]
	if !ok {
		return 0, nil, false
	}
	c.order.MoveToFront(el)
	v := el.Value.(*cached)
	return v.typ, v.content, true
}

func (c *contentCache) put(offset int64, typ plumbing.ObjectType, content []byte) {
	if len(content) > c.max/4 {
		return
	}
	if _, ok := c.items[offset]; ok {
		return
	}
	c.items[offset] = c.order.PushFront(&cached{offset, typ, content})
	c.size += len(content)
	for c.size > c.max {
		el := c.order.Back()
		v := el.Value.(*cached)
		c.order.Remove(el)
		delete(c.items, v.offset)
		c.size -= len(v.content)
	}
}

// packBlobs reads objects straight from a pack just received and indexed:
// with pread on one shared descriptor and a reusable inflater per reader,
// so a checkout of what a fetch brought needs no go-git lookup, no
// descriptor and no buffer per file. Objects not in the pack (an update
// reuses cached ones) are read through go-git as usual.
type packBlobs struct {
	f  *os.File
	ix *indexer // not safe for concurrent use: the tree walker's own
}

func (pb *packBlobs) Close() error {
	if pb == nil {
		return nil
	}
	return pb.f.Close()
}

// find returns the pack entry of object h, if the pack holds it.
func (pb *packBlobs) find(h plumbing.Hash) (packEntry, bool) {
	if pb == nil {
		return packEntry{}, false
	}
	i, ok := pb.ix.byID[h]
	if !ok {
		return packEntry{}, false
	}
	return pb.ix.entries[i], true
}

// packInflater inflates whole objects of a pack; each pool writer has one.
type packInflater struct {
	br *bufio.Reader
	zr io.ReadCloser
}

// open returns a reader of entry e's content, valid until the next open.
func (in *packInflater) open(f *os.File, e packEntry) (io.Reader, error) {
	sr := io.NewSectionReader(f, e.data, 1<<62)
	if in.br == nil {
		in.br = bufio.NewReaderSize(sr, 32<<10)
	} else {
		in.br.Reset(sr)
	}
	var err error
	if in.zr == nil {
		in.zr, err = zlib.NewReader(in.br)
	} else {
		err = in.zr.(zlib.Resetter).Reset(in.br, nil)
	}
	if err != nil {
		return nil, err
	}
	return io.LimitReader(in.zr, int64(e.size)), nil
}
