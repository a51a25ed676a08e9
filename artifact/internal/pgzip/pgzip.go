package pgzip

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

const dictSize = 32 << 10

// header is the fixed 10-byte gzip member header: magic, deflate, no flags,
// mtime 0, no extra flags, OS 255 (unknown).
var header = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

type block struct {
	in    []byte
	dict  []byte
	final bool
	out   []byte
	err   error
	done  chan struct{}
}

// Writer is a parallel, deterministic gzip writer. It is not safe for
// concurrent use; Close must be called to flush and to stop its goroutines.
type Writer struct {
	w         io.Writer
	level     int
	blockSize int

	cur  []byte
	tail []byte // last dictSize bytes of the previous block
	crc  uint32
	size uint32

	work    chan *block
	ordered chan *block
	wg      sync.WaitGroup
	wdone   chan struct{}
	errMu   sync.Mutex
	werr    error // first error of the output goroutine
	pool    sync.Pool
	outPool sync.Pool
	closed  bool
}

// NewWriter returns a Writer compressing at level (1–9) with blocks of
// blockSize bytes on workers goroutines.
func NewWriter(w io.Writer, level, blockSize, workers int) (*Writer, error) {
	if level < flate.BestSpeed || level > flate.BestCompression {
		return nil, errors.New("pgzip: level must be between 1 and 9")
	}
	if blockSize < dictSize {
		return nil, errors.New("pgzip: block size must be at least 32 KiB")
	}
	if workers < 1 {
		workers = 1
	}
	z := &Writer{
		w:         w,
		level:     level,
		blockSize: blockSize,
		work:      make(chan *block, workers),
		ordered:   make(chan *block, 2*workers),
		wdone:     make(chan struct{}),
	}
	z.pool.New = func() any { b := make([]byte, 0, blockSize); return &b }
	z.outPool.New = func() any { b := make([]byte, 0, blockSize/2); return &b }
	for range workers {
		z.wg.Add(1)
		go z.compressLoop()
	}
	go z.outputLoop()
	return z, nil
}

func (z *Writer) compressLoop() {
	defer z.wg.Done()
	var fw *flate.Writer
	var buf bufWriter
	for b := range z.work {
		buf.b = b.out[:0]
		if fw == nil {
			fw, b.err = flate.NewWriterDict(&buf, z.level, b.dict)
		} else {
			fw.ResetDict(&buf, b.dict)
		}
		if b.err == nil {
			_, b.err = fw.Write(b.in)
		}
		if b.err == nil {
			if b.final {
				b.err = fw.Close()
			} else {
				b.err = fw.Flush()
			}
		}
		b.out = buf.b
		close(b.done)
	}
}

type bufWriter struct{ b []byte }

func (w *bufWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func (z *Writer) outputLoop() {
	defer close(z.wdone)
	_, err := z.w.Write(header[:])
	z.setErr(err)
	for b := range z.ordered {
		<-b.done
		if z.err() == nil {
			if b.err != nil {
				z.setErr(b.err)
			} else if _, err := z.w.Write(b.out); err != nil {
				z.setErr(err)
			}
		}
		in, out := b.in[:0], b.out[:0]
		z.pool.Put(&in)
		z.outPool.Put(&out)
	}
}

func (z *Writer) setErr(err error) {
	if err == nil {
		return
	}
	z.errMu.Lock()
	if z.werr == nil {
		z.werr = err
	}
	z.errMu.Unlock()
}

func (z *Writer) err() error {
	z.errMu.Lock()
	defer z.errMu.Unlock()
	return z.werr
}

// Write buffers p and hands every full block to the workers.
func (z *Writer) Write(p []byte) (int, error) {
	if z.closed {
		return 0, errors.New("pgzip: write after close")
	}
	n := len(p)
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p)
	z.size += uint32(n) // ISIZE is the length modulo 2^32
	for len(p) > 0 {
		if z.cur == nil {
			z.cur = *(z.pool.Get().(*[]byte))
		}
		k := min(z.blockSize-len(z.cur), len(p))
		z.cur = append(z.cur, p[:k]...)
		p = p[k:]
		if len(z.cur) == z.blockSize {
			if err := z.submit(false); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (z *Writer) submit(final bool) error {
	if err := z.err(); err != nil {
		return err
	}
	in := z.cur
	if in == nil {
		in = []byte{}
	}
	b := &block{in: in, dict: z.tail, final: final, out: *(z.outPool.Get().(*[]byte)), done: make(chan struct{})}
	// The dictionary is copied: the previous block's buffer goes back to the
	// pool once written out, while this block may still be compressing.
	if len(in) >= dictSize {
		z.tail = append([]byte(nil), in[len(in)-dictSize:]...)
	} else {
		z.tail = append(append([]byte(nil), z.tail...), in...)
		if len(z.tail) > dictSize {
			z.tail = z.tail[len(z.tail)-dictSize:]
		}
	}
	z.cur = nil
	z.ordered <- b
	z.work <- b
	return nil
}

// Close compresses what is buffered, writes the gzip trailer and stops the
// goroutines. It returns the first error met on the way.
func (z *Writer) Close() error {
	if z.closed {
		return nil
	}
	z.closed = true
	err := z.submit(true)
	close(z.work)
	close(z.ordered)
	z.wg.Wait()
	<-z.wdone
	if err == nil {
		err = z.err()
	}
	if err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:], z.size)
	_, err = z.w.Write(trailer[:])
	return err
}
