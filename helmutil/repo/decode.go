package repo

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	repov1 "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// job is a piece of the index for a decoder: a batch of consecutive
// versions of one chart (items), or an inline chart or entries value.
type job struct {
	seq   int
	kind  int
	chart string
	data  []byte
	items []itemPos
	line  int
}

// itemPos is where a version's entry starts in a batch.
type itemPos struct{ off, line int }

// decodePool decodes jobs on GOMAXPROCS goroutines while the reader goes on
// cutting the document, and hands the entries to the builder (from one
// goroutine). A job's sequence number keeps the document's order.
type decodePool struct {
	jobs    chan *job
	results chan result
	workers sync.WaitGroup
	done    chan struct{}
	failed  atomic.Bool
	b       *builder
	err     error
	errSeq  int
}

type result struct {
	seq     int
	chart   string
	es      []entry
	skipped int
	charts  map[string][]entry // an inline entries value
	err     error
}

func newDecodePool(b *builder) *decodePool {
	n := runtime.GOMAXPROCS(0)
	p := &decodePool{
		jobs:    make(chan *job, n),
		results: make(chan result, n),
		done:    make(chan struct{}),
		b:       b,
	}
	for range n {
		p.workers.Add(1)
		go func() {
			defer p.workers.Done()
			for j := range p.jobs {
				p.results <- decodeJob(j)
			}
		}()
	}
	go p.collect()
	return p
}

// errDecodeFailed stops the reader once a decoder failed; wait returns the
// decoder's error.
var errDecodeFailed = fmt.Errorf("%w: a chart version failed to decode", ErrInvalidIndex)

func (p *decodePool) submit(j *job) error {
	if p.failed.Load() {
		return errDecodeFailed
	}
	p.jobs <- j
	return nil
}

func (p *decodePool) collect() {
	defer close(p.done)
	for r := range p.results {
		if r.err == nil && p.err == nil {
			if r.charts != nil {
				for name, es := range r.charts {
					p.b.startChart(name, r.seq)
					r.err = p.b.addChunk(name, r.seq, es, 0)
					if r.err != nil {
						break
					}
				}
				p.b.skipped += r.skipped
			} else {
				r.err = p.b.addChunk(r.chart, r.seq, r.es, r.skipped)
			}
		}
		if r.err != nil && (p.err == nil || r.seq < p.errSeq) {
			p.err, p.errSeq = r.err, r.seq
			p.failed.Store(true)
		}
	}
}

// wait ends the pool and returns the first error in document order.
func (p *decodePool) wait() error {
	close(p.jobs)
	p.workers.Wait()
	close(p.results)
	<-p.done
	return p.err
}

func decodeJob(j *job) result {
	r := result{seq: j.seq, chart: j.chart}
	switch j.kind {
	case itemPiece:
		var cvs []*repov1.ChartVersion
		if err := yaml.UnmarshalStrict(j.data, &cvs); err != nil {
			r.err = locateItemError(j, err)
			return r
		}
		r.es, r.skipped = toEntries(cvs)
	case inlineChartPiece:
		var m map[string]repov1.ChartVersions
		if err := yaml.UnmarshalStrict(j.data, &m); err != nil {
			r.err = pieceErr(j.line, j.chart, err)
			return r
		}
		for _, cvs := range m {
			es, skipped := toEntries(cvs)
			r.es = append(r.es, es...)
			r.skipped += skipped
		}
	case inlineEntriesPiece:
		var m struct {
			Entries map[string]repov1.ChartVersions `json:"entries"`
		}
		if err := yaml.UnmarshalStrict(j.data, &m); err != nil {
			r.err = pieceErr(j.line, "", err)
			return r
		}
		r.charts = map[string][]entry{}
		for name, cvs := range m.Entries {
			es, skipped := toEntries(cvs)
			r.charts[name] = es
			r.skipped += skipped
		}
	}
	return r
}

// locateItemError decodes the versions of a batch one by one to report
// the one that does not decode.
func locateItemError(j *job, err error) error {
	for k, it := range j.items {
		end := len(j.data)
		if k+1 < len(j.items) {
			end = j.items[k+1].off
		}
		var cvs []*repov1.ChartVersion
		if ierr := yaml.UnmarshalStrict(j.data[it.off:end], &cvs); ierr != nil {
			return pieceErr(it.line, j.chart, ierr)
		}
	}
	// Each decodes alone but not together (an alias to an anchor of
	// another version, a duplicate across them).
	return pieceErr(j.line, j.chart, err)
}

func pieceErr(line int, chart string, err error) error {
	return &IndexError{Line: line, Chart: chart, Reason: "entry does not decode: " + err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidIndex, err)}
}
