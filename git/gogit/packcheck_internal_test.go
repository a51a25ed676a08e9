package gogit

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gitopskit/kit/git"
)

// packBuilder writes pack files by hand, lies included.
type packBuilder struct {
	buf   bytes.Buffer
	count uint32
}

func newPack(count uint32) *packBuilder {
	p := &packBuilder{count: count}
	p.buf.WriteString("PACK")
	_ = binary.Write(&p.buf, binary.BigEndian, uint32(2))
	_ = binary.Write(&p.buf, binary.BigEndian, count)
	return p
}

// header writes an object header declaring typ and size.
func (p *packBuilder) header(typ byte, size uint64) {
	b := typ<<4 | byte(size&15)
	size >>= 4
	for size > 0 {
		p.buf.WriteByte(b | 0x80)
		b = byte(size & 0x7f)
		size >>= 7
	}
	p.buf.WriteByte(b)
}

func (p *packBuilder) deflate(data []byte) {
	zw := zlib.NewWriter(&p.buf)
	_, _ = zw.Write(data)
	_ = zw.Close()
}

// object writes a whole object whose header declares size and whose data
// inflates to data.
func (p *packBuilder) object(typ byte, size uint64, data []byte) *packBuilder {
	p.header(typ, size)
	p.deflate(data)
	return p
}

// ofsDelta writes an OFS delta (base one entry back) whose data declares
// base and result sizes.
func (p *packBuilder) ofsDelta(baseSize, resultSize uint64) *packBuilder {
	var d []byte
	d = binary.AppendUvarint(d, baseSize)
	d = binary.AppendUvarint(d, resultSize)
	p.header(packOFSDelta, uint64(len(d)))
	p.buf.WriteByte(1) // offset
	p.deflate(d)
	return p
}

func (p *packBuilder) bytes() []byte {
	sum := sha1.Sum(p.buf.Bytes())
	return append(bytes.Clone(p.buf.Bytes()), sum[:]...)
}

func testLimits() limits {
	return limits{fetchSize: 1 << 20, objectSize: 64 << 10, objects: 100, files: math.MaxInt64, checkoutSize: math.MaxInt64}
}

// checkPack runs data through a packCheck in chunks of chunk bytes, as a
// fetch does, and returns what reached the writer and the verdict.
func checkPack(data []byte, lim limits, chunk int) ([]byte, error) {
	_, stored, err := checkPackStaging(data, lim, chunk, nil)
	return stored, err
}

// checkPackStaging is checkPack with the whole blobs staged into stage
// (finished when it returns), and returns the check too.
func checkPackStaging(data []byte, lim limits, chunk int, stage *blobStage) (*packCheck, []byte, error) {
	var stored bytes.Buffer
	check := newStagingPackCheck(lim, stage)
	err := copyChecked(context.Background(), &stored, check, &chunkReader{data: data, n: chunk})
	if cerr := check.Close(); err == nil {
		err = cerr
	}
	stage.finish(check)
	return check, stored.Bytes(), err
}

type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func limitName(err error) string {
	var l *git.LimitError
	if errors.As(err, &l) {
		return l.Limit
	}
	return ""
}

func TestPackCheck(t *testing.T) {
	t.Parallel()
	blob := []byte("hello\n")
	cases := []struct {
		name      string
		pack      []byte
		wantLimit string // a *git.LimitError naming it
		wantErr   bool   // any other error
	}{
		{name: "valid", pack: newPack(2).object(packBlob, 6, blob).object(packBlob, 6, blob).bytes()},
		{name: "valid delta", pack: newPack(2).object(packBlob, 6, blob).ofsDelta(6, 6).bytes()},
		{name: "object larger than MaxObjectSize", pack: newPack(1).object(packBlob, 1<<30, nil).bytes(), wantLimit: "MaxObjectSize"},
		{name: "delta result larger than MaxObjectSize", pack: newPack(2).object(packBlob, 6, blob).ofsDelta(6, 1<<30).bytes(), wantLimit: "MaxObjectSize"},
		{name: "delta base larger than MaxObjectSize", pack: newPack(2).object(packBlob, 6, blob).ofsDelta(1<<40, 6).bytes(), wantLimit: "MaxObjectSize"},
		{name: "header lies: inflates to more", pack: newPack(1).object(packBlob, 10, make([]byte, 1<<20)).bytes(), wantErr: true},
		{name: "header lies: inflates to less", pack: newPack(1).object(packBlob, 100, blob).bytes(), wantErr: true},
		{name: "more objects than MaxObjects", pack: newPack(1<<30).object(packBlob, 6, blob).bytes(), wantLimit: "MaxObjects"},
		{name: "a 60 KiB object within the limits", pack: newPack(1).object(packBlob, 60<<10, bytes.Repeat([]byte("x"), 60<<10)).bytes(), wantErr: false},
		{name: "truncated", pack: newPack(2).object(packBlob, 6, blob).bytes()[:30], wantErr: true},
		{name: "trailing data", pack: append(newPack(1).object(packBlob, 6, blob).bytes(), "junk"...), wantErr: true},
		{name: "bad signature", pack: append([]byte("KCAP"), newPack(0).bytes()[4:]...), wantErr: true},
		{name: "bad object type", pack: newPack(1).object(5, 6, blob).bytes(), wantErr: true},
		{name: "endless size header", pack: append(newPack(1).bytes()[:12], bytes.Repeat([]byte{0xff}, 20)...), wantErr: true},
	}
	for _, tc := range cases {
		for _, chunk := range []int{1, 7, 64 << 10} {
			stored, err := checkPack(tc.pack, testLimits(), chunk)
			// Staging the blobs changes nothing of the verdict.
			_, stagedStored, stagedErr := checkPackStaging(tc.pack, testLimits(), chunk, testStage(t, 100, 1<<30))
			if (err == nil) != (stagedErr == nil) || limitName(err) != limitName(stagedErr) || !bytes.Equal(stored, stagedStored) {
				t.Errorf("%s (chunks of %d): staged: err = %v, %d bytes stored; not staged: err = %v, %d bytes", tc.name, chunk, stagedErr, len(stagedStored), err, len(stored))
			}
			switch {
			case tc.wantLimit != "":
				if limitName(err) != tc.wantLimit || !errors.Is(err, git.ErrSizeLimit) {
					t.Errorf("%s (chunks of %d): err = %v, want a %s LimitError", tc.name, chunk, err, tc.wantLimit)
				}
			case tc.wantErr && err == nil, !tc.wantErr && err != nil:
				t.Errorf("%s (chunks of %d): err = %v, want error: %v", tc.name, chunk, err, tc.wantErr)
			}
			if err != nil && tc.name != "truncated" && len(stored) >= len(tc.pack) {
				t.Errorf("%s (chunks of %d): a refused pack reached the storage whole", tc.name, chunk)
			}
			if err == nil && !bytes.Equal(stored, tc.pack) {
				t.Errorf("%s (chunks of %d): the pack was not passed on as received", tc.name, chunk)
			}
		}
	}
	lim := testLimits()
	lim.fetchSize = 1000
	noise := make([]byte, 60<<10)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(noise)
	if _, err := checkPack(newPack(1).object(packBlob, uint64(len(noise)), noise).bytes(), lim, 64<<10); limitName(err) != "MaxFetchSize" {
		t.Errorf("a pack larger than MaxFetchSize: err = %v", err)
	}
}

// TestPackCheckRecordsThinBases: REF deltas name their bases, and whole
// objects their ids, so a thin pack can be completed.
func TestPackCheckRecordsThinBases(t *testing.T) {
	t.Parallel()
	p := newPack(2).object(packBlob, 6, []byte("hello\n"))
	base := bytes.Repeat([]byte{0xab}, 20)
	var d []byte
	d = binary.AppendUvarint(d, 3)
	d = binary.AppendUvarint(d, 3)
	p.header(packREFDelta, uint64(len(d)))
	p.buf.Write(base)
	p.deflate(d)
	check := newPackCheck(testLimits())
	if err := copyChecked(context.Background(), io.Discard, check, bytes.NewReader(p.bytes())); err != nil {
		t.Fatal(err)
	}
	if err := check.Close(); err != nil {
		t.Fatal(err)
	}
	var want [20]byte
	copy(want[:], base)
	if !check.bases[want] || len(check.whole) != 1 || check.count != 2 {
		t.Fatalf("bases %v, whole %v, count %d", check.bases, check.whole, check.count)
	}
}

// FuzzPackCheck feeds arbitrary bytes to the pack check: it never panics
// or hangs, passes on exactly what it accepts, and judges the same whether
// it stages blobs or not.
func FuzzPackCheck(f *testing.F) {
	blob := []byte("hello\n")
	f.Add(newPack(2).object(packBlob, 6, blob).ofsDelta(6, 6).bytes(), 7)
	f.Add(newPack(1).object(packBlob, 10, make([]byte, 1000)).bytes(), 1)
	f.Add(newPack(1).object(packBlob, 1<<30, nil).bytes(), 64)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 || chunk > 1<<16 {
			chunk = 1 + len(data)%512
		}
		stored, err := checkPack(data, testLimits(), chunk)
		if err == nil && !bytes.Equal(stored, data) {
			t.Fatalf("accepted pack passed on altered")
		}
		// Staging its blobs changes nothing of the verdict.
		_, stagedStored, stagedErr := checkPackStaging(data, testLimits(), chunk, testStage(t, 100, 1<<20))
		if (err == nil) != (stagedErr == nil) || limitName(err) != limitName(stagedErr) || !bytes.Equal(stored, stagedStored) {
			t.Fatalf("staged: %v, %d bytes stored; not staged: %v, %d bytes", stagedErr, len(stagedStored), err, len(stored))
		}
		var limit *git.LimitError
		if errors.As(err, &limit) && limit.Limit != "MaxFetchSize" && bytes.Equal(stored, data) {
			t.Fatalf("pack refused for %v passed on whole", err)
		}
	})
}
