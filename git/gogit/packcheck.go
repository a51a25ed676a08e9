package gogit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"

	"github.com/gitopskit/kit/git"
)

// A packCheck reads a pack file as it streams from the server and refuses
// it as soon as it crosses a limit: more bytes than limits.fetchSize, more
// objects than limits.objects, or an object (or the result of a delta)
// whose inflated size passes limits.objectSize. Sizes are checked against
// each object's header before its data is inflated, and the data inflated
// is counted, so a header that lies is caught too; memory stays constant.
//
// It runs beside the writer that stores the pack: packCheck.Write hands a
// chunk over and returns only once every byte of it was checked, so the
// storage never receives the chunk that completes a refused object (go-git
// reads an object whole into memory once its pack is complete).
type packCheck struct {
	lim limits

	in    chan []byte
	need  chan struct{}
	quit  chan struct{} // closed by Close: no more chunks
	done  chan struct{}
	ready bool // the checker asked for a chunk not handed over yet
	err   error
	cur   []byte

	// Read by the caller once done: the pack's object count, its entries,
	// the ids of its whole (not deltified) objects and the bases of its
	// REF_DELTA objects, and its checksum.
	count    uint32
	entries  []packEntry
	whole    map[plumbing.Hash]bool
	bases    map[plumbing.Hash]bool
	checksum plumbing.Hash
	stored   int64 // bytes received
	read     int64 // bytes handed to the checker's reader
	br       *bufio.Reader
	zr       io.ReadCloser // reused for every object
	buf      []byte        // reused for every object
	// stage, if any, is given the whole blobs it accepts, to hash (their
	// entries' ids are set by its finish) and write.
	stage *blobStage
}

// packEntry is one object entry of a pack.
type packEntry struct {
	offset int64         // of its header
	data   int64         // offset of its deflated data
	typ    byte          // pack type
	size   uint64        // inflated size of its data
	base   int64         // OFS_DELTA: the offset of its base
	ref    plumbing.Hash // REF_DELTA: the id of its base
	id     plumbing.Hash // whole objects: its id (deltas: set by the indexer)
}

func newPackCheck(lim limits) *packCheck { return newStagingPackCheck(lim, nil) }

// newStagingPackCheck returns a packCheck that hands the whole blobs stage
// accepts to it (none when stage is nil).
func newStagingPackCheck(lim limits, stage *blobStage) *packCheck {
	c := &packCheck{lim: lim, in: make(chan []byte), need: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{}),
		whole: map[plumbing.Hash]bool{}, bases: map[plumbing.Hash]bool{}, stage: stage}
	c.br = bufio.NewReaderSize(c, 64<<10)
	go func() {
		defer close(c.done)
		c.err = c.check(c.br)
	}()
	return c
}

// pos is the offset in the pack of the next byte the checker reads.
func (c *packCheck) pos() int64 { return c.read - int64(c.br.Buffered()) }

// errAfterPack reports data after the pack's checksum.
var errAfterPack = errors.New("data after the end of the pack")

// Write hands p to the checker and waits until it has checked all of it.
// It returns the checker's error, if any, in which case p must not be
// stored.
func (c *packCheck) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.stored += int64(len(p))
	if c.stored > c.lim.fetchSize {
		return 0, &git.LimitError{Limit: "MaxFetchSize", Max: c.lim.fetchSize, What: "the fetched pack is larger than the limit"}
	}
	if !c.ready {
		select {
		case <-c.need:
		case <-c.done:
			return 0, c.finished()
		}
	}
	c.ready = false
	select {
	case c.in <- p:
	case <-c.done:
		return 0, c.finished()
	}
	select {
	case <-c.need:
		c.ready = true
		return len(p), nil
	case <-c.done:
		if c.err != nil {
			return 0, c.err
		}
		if len(c.cur) > 0 {
			return 0, errAfterPack
		}
		return len(p), nil
	}
}

func (c *packCheck) finished() error {
	if c.err != nil {
		return c.err
	}
	return errAfterPack
}

// Close ends the stream and returns the checker's verdict on the whole
// pack.
func (c *packCheck) Close() error {
	close(c.quit)
	<-c.done
	if c.err != nil {
		return c.err
	}
	if len(c.cur) > 0 {
		return errAfterPack
	}
	return nil
}

// Read gives the checker the chunks handed over by Write.
func (c *packCheck) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		select {
		case c.need <- struct{}{}:
		case <-c.quit:
			return 0, io.EOF
		}
		select {
		case c.cur = <-c.in:
		case <-c.quit:
			return 0, io.EOF
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	c.read += int64(n)
	return n, nil
}

// Object types in a pack.
const (
	packCommit   = 1
	packTree     = 2
	packBlob     = 3
	packTag      = 4
	packOFSDelta = 6
	packREFDelta = 7
)

// check reads the pack: header, objects, checksum.
func (c *packCheck) check(r *bufio.Reader) error {
	var header [12]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return malformed("header", err)
	}
	if !bytes.Equal(header[:4], []byte("PACK")) {
		return malformed("signature", nil)
	}
	if v := binary.BigEndian.Uint32(header[4:8]); v != 2 && v != 3 {
		return malformed("version "+strconv.Itoa(int(v)), nil)
	}
	c.count = binary.BigEndian.Uint32(header[8:])
	if int64(c.count) > c.lim.objects {
		return &git.LimitError{Limit: "MaxObjects", Max: c.lim.objects, What: fmt.Sprintf("the fetched pack holds %d objects", c.count)}
	}
	c.entries = make([]packEntry, 0, c.count)
	for i := uint32(0); i < c.count; i++ {
		if err := c.object(r); err != nil {
			return err
		}
	}
	if _, err := io.ReadFull(r, c.checksum[:]); err != nil {
		return malformed("checksum", err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return errAfterPack
	}
	return nil
}

func malformed(what string, err error) error {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("malformed pack: %s: %w", what, err)
	}
	return fmt.Errorf("malformed pack: %s", what)
}

// object reads one object entry: its header, then its deflated data.
func (c *packCheck) object(r *bufio.Reader) error {
	e := packEntry{offset: c.pos()}
	b, err := r.ReadByte()
	if err != nil {
		return malformed("object header", err)
	}
	typ := (b >> 4) & 7
	size := uint64(b & 15)
	for shift := 4; b&0x80 != 0; shift += 7 {
		if shift > 56 {
			return malformed("object size", nil)
		}
		if b, err = r.ReadByte(); err != nil {
			return malformed("object header", err)
		}
		size |= uint64(b&0x7f) << shift
	}
	var base plumbing.Hash
	switch typ {
	case packCommit, packTree, packBlob, packTag:
		if size > uint64(c.lim.objectSize) {
			return c.tooLarge(size)
		}
	case packOFSDelta:
		if b, err = r.ReadByte(); err != nil {
			return malformed("delta offset", err)
		}
		ofs := int64(b & 0x7f)
		for n := 0; b&0x80 != 0; n++ {
			if n > 8 {
				return malformed("delta offset", nil)
			}
			if b, err = r.ReadByte(); err != nil {
				return malformed("delta offset", err)
			}
			ofs = (ofs+1)<<7 | int64(b&0x7f)
		}
		if ofs <= 0 || ofs > e.offset {
			return malformed("delta offset", nil)
		}
		e.base = e.offset - ofs
	case packREFDelta:
		if _, err := io.ReadFull(r, base[:]); err != nil {
			return malformed("delta base", err)
		}
		c.bases[base] = true
		e.ref = base
	default:
		return malformed("object type "+strconv.Itoa(int(typ)), nil)
	}
	if typ >= packOFSDelta && size > uint64(c.lim.objectSize)+2*10 {
		// A delta's data cannot be larger than the object it builds, plus
		// its two size headers.
		return c.tooLarge(size)
	}
	e.typ, e.size, e.data = typ, size, c.pos()
	zr, err := c.inflater(r)
	if err != nil {
		return malformed("object data", err)
	}
	// At most one byte more than the header says is inflated: enough to
	// tell that it lies.
	data := &countingReader{r: &io.LimitedReader{R: zr, N: int64(size) + 1}}
	if typ == packBlob && c.stage.accepts(size) {
		// The stage hashes and writes it while the next objects inflate.
		content, err := readStagedBlob(data, size)
		if err != nil {
			return malformed("object data", err)
		}
		if uint64(data.n) != size {
			return malformed(fmt.Sprintf("object data: %d bytes inflated, header says %d", data.n, size), nil)
		}
		c.stage.add(len(c.entries), content)
		c.entries = append(c.entries, e)
		return nil
	}
	var h hash.Hash
	if typ < packOFSDelta {
		h = plumbing.NewHasher(packType(typ), int64(size)).Hash
	}
	if typ >= packOFSDelta {
		// A delta starts with the sizes of its base and of its result.
		br := bufio.NewReaderSize(data, 64)
		for range 2 {
			sz, err := readVarint(br)
			if err != nil {
				return malformed("delta header", err)
			}
			if sz > uint64(c.lim.objectSize) {
				return c.tooLarge(sz)
			}
		}
		if _, err := io.Copy(io.Discard, br); err != nil {
			return malformed("object data", err)
		}
	} else if _, err := io.CopyBuffer(writerOrDiscard(h), data, c.buf); err != nil {
		return malformed("object data", err)
	}
	if uint64(data.n) != size {
		return malformed(fmt.Sprintf("object data: %d bytes inflated, header says %d", data.n, size), nil)
	}
	if h != nil {
		copy(e.id[:], h.Sum(nil))
		c.whole[e.id] = true
	}
	c.entries = append(c.entries, e)
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// inflater returns the zlib reader of the next object's data, reusing one
// reader (and its 32 KiB window) for all.
func (c *packCheck) inflater(r io.Reader) (io.ReadCloser, error) {
	if c.buf == nil {
		c.buf = make([]byte, 32<<10)
	}
	if c.zr == nil {
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, err
		}
		c.zr = zr
		return zr, nil
	}
	return c.zr, c.zr.(zlib.Resetter).Reset(r, nil)
}

func (c *packCheck) tooLarge(size uint64) error {
	return &git.LimitError{Limit: "MaxObjectSize", Max: c.lim.objectSize, What: fmt.Sprintf("the fetched pack holds an object of %d bytes", size)}
}

func packType(t byte) plumbing.ObjectType {
	switch t {
	case packCommit:
		return plumbing.CommitObject
	case packTree:
		return plumbing.TreeObject
	case packBlob:
		return plumbing.BlobObject
	}
	return plumbing.TagObject
}

// readVarint reads a delta header size (LEB128).
func readVarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for shift := 0; ; shift += 7 {
		if shift > 63 {
			return 0, errors.New("size too long")
		}
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, nil
		}
	}
}

func writerOrDiscard(h hash.Hash) io.Writer {
	if h == nil {
		return io.Discard
	}
	return h
}
