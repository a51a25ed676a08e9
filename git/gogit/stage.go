package gogit

import (
	"io"
	"os"
	"path"
	"runtime"
	"strconv"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

const (
	// stageDir is the folder, inside a clone's .git, where a blobStage
	// writes the blobs of the pack as it streams in.
	stageDir = ".git/gitopskit-stage"
	// maxStagedBlob is the largest blob staged: larger ones are inflated
	// from the pack again when checked out, so a blob is never held whole
	// in memory past this size.
	maxStagedBlob = 512 << 10
)

// A blobStage writes the whole blobs of a pack, as packCheck inflates
// them while the pack streams in, to files of a staging folder inside the
// clone; the checkout then renames each into place (the first path a blob
// goes to) instead of inflating it from the pack a second time. A fresh
// clone's checkout is thus one inflation per object, as the stream is
// received, and its hashing and writing run on the other cores while the
// next objects are inflated.
//
// What it stages is bounded by the checkout's limits (as many files, as
// many bytes), so a pack of well-compressed blobs cannot fill a disk past
// what the checkout itself may write; blobs past those bounds, past
// maxStagedBlob, or whose file cannot be written are simply not staged.
// Staging never decides what is checked out: the tree walk does, with
// every check it makes for any file.
type blobStage struct {
	root *os.Root      // the clone's folder
	fs   []*stageFiles // a folder of the stage for each worker
	// At most maxFiles blobs and maxBytes of content are staged.
	maxFiles, maxBytes int64

	jobs    chan stageJob
	workers sync.WaitGroup

	// Counted by the checker (one goroutine) before a blob is handed over.
	files, bytes int64

	mu     sync.Mutex
	ids    []stagedID                   // the ids the workers computed, by entry
	staged map[plumbing.Hash]stagedBlob // blob id → staged file, until taken
}

// stageJob is one whole blob of the pack: its entry's index and content.
type stageJob struct {
	entry int
	data  []byte
}

// stagedBlob is a file of the stage: its name in a worker's folder.
type stagedBlob struct {
	fs   *stageFiles
	name string
}

// stagedID is the id of the blob at a pack entry.
type stagedID struct {
	entry int
	id    plumbing.Hash
}

// newBlobStage creates the staging folder in root and starts its workers,
// which stage at most maxFiles blobs and maxBytes of content. Each worker
// writes into a folder of its own: files created at once in one folder
// wait on each other (the kernel locks the folder), spinning.
func newBlobStage(root *os.Root, maxFiles, maxBytes int64) (*blobStage, error) {
	if err := root.Mkdir(stageDir, 0o700); err != nil {
		return nil, err
	}
	s := &blobStage{root: root, maxFiles: maxFiles, maxBytes: maxBytes, staged: map[plumbing.Hash]stagedBlob{}}
	n := min(max(runtime.GOMAXPROCS(0), 1), 4)
	for i := range n {
		fs, err := openStageFiles(root, path.Join(stageDir, strconv.Itoa(i)))
		if err != nil {
			_ = s.remove()
			return nil, err
		}
		s.fs = append(s.fs, fs)
	}
	s.jobs = make(chan stageJob, 2*n)
	s.workers.Add(n)
	for _, fs := range s.fs {
		go s.work(fs)
	}
	return s, nil
}

// accepts reports whether a blob of size bytes is to be staged, counting
// it if so. Called by the checker only.
func (s *blobStage) accepts(size uint64) bool {
	if s == nil || size > maxStagedBlob || s.files >= s.maxFiles || int64(size) > s.maxBytes-s.bytes {
		return false
	}
	s.files++
	s.bytes += int64(size)
	return true
}

// add hands the content of the blob at pack entry i to the workers, which
// own data from now on.
func (s *blobStage) add(i int, data []byte) { s.jobs <- stageJob{entry: i, data: data} }

func (s *blobStage) work(fs *stageFiles) {
	defer s.workers.Done()
	for j := range s.jobs {
		h := plumbing.NewHasher(plumbing.BlobObject, int64(len(j.data)))
		_, _ = h.Write(j.data)
		id := h.Sum()
		name := strconv.Itoa(j.entry)
		stored := fs.create(name, j.data) == nil
		s.mu.Lock()
		s.ids = append(s.ids, stagedID{j.entry, id})
		if _, dup := s.staged[id]; stored && !dup {
			s.staged[id] = stagedBlob{fs, name}
			stored = false
		}
		s.mu.Unlock()
		if stored { // a duplicate
			_ = fs.remove(name)
		}
	}
}

// finish waits for the workers and gives the checker's entries the ids
// they computed. Safe to call more than once.
func (s *blobStage) finish(c *packCheck) {
	if s == nil {
		return
	}
	if s.jobs != nil {
		close(s.jobs)
		s.workers.Wait()
		s.jobs = nil
	}
	if c == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.ids {
		c.entries[x.entry].id = x.id
		c.whole[x.id] = true
	}
}

// take returns the staged file holding blob id, once: the first path the
// blob goes to gets the file, any other is written from the pack.
func (s *blobStage) take(id plumbing.Hash) (stagedBlob, bool) {
	if s == nil {
		return stagedBlob{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.staged[id]
	if ok {
		delete(s.staged, id)
	}
	return f, ok
}

// path is the file's path in the clone.
func (f stagedBlob) path() string { return path.Join(f.fs.rel, f.name) }

// remove stops the workers and removes the staging folder with what was
// not taken.
func (s *blobStage) remove() error {
	if s == nil {
		return nil
	}
	s.finish(nil)
	for _, fs := range s.fs {
		if err := fs.close(); err != nil {
			return err
		}
	}
	s.fs = nil
	return s.root.RemoveAll(stageDir)
}

// readStagedBlob inflates a blob of size bytes (no more: a header that
// lies is malformed) from data into a new buffer for the stage.
func readStagedBlob(data io.Reader, size uint64) ([]byte, error) {
	buf := make([]byte, size+1)
	n := 0
	for n < len(buf) {
		m, err := data.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf[:n], nil
}
