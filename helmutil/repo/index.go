package repo

import (
	"fmt"
	"sort"
	"time"
	"unsafe"

	"github.com/Masterminds/semver/v3"
)

// ChartVersion is one version of a chart in an index: what selecting,
// downloading and recording it needs.
type ChartVersion struct {
	// Name is the chart's name (the index key it is listed under).
	Name string
	// Version is the version as the index writes it.
	Version string
	// Digest is the entry's digest: the hex SHA-256 of the package, as
	// Helm writes it (empty when the index has none).
	Digest string
	// URLs are the package's URLs as the index gives them, absolute or
	// relative to the repository URL.
	URLs []string
	// Created is when the version was added to the index.
	Created time.Time
	// Deprecated is the chart's deprecation flag.
	Deprecated bool
}

// Index is a parsed repository index: per chart, its versions sorted newest
// first exactly as Helm sorts them. It is immutable and safe for concurrent
// use.
type Index struct {
	apiVersion string
	generated  time.Time
	charts     map[string][]entry
	names      []string
	versions   int
	skipped    int
	size       int64
}

// entry is the compact form of a chart version kept in the table.
type entry struct {
	version    string
	digest     string
	urls       []string
	created    time.Time // UTC
	deprecated bool
}

// APIVersion is the index's apiVersion ("v1").
func (i *Index) APIVersion() string { return i.apiVersion }

// Generated is the index's generation time.
func (i *Index) Generated() time.Time { return i.generated }

// Names returns the chart names, sorted.
func (i *Index) Names() []string { return append([]string(nil), i.names...) }

// Len returns the number of chart versions in the table.
func (i *Index) Len() int { return i.versions }

// Skipped returns the number of entries left out because their metadata
// is invalid (no name, a version that is not semver...), as Helm leaves
// them out.
func (i *Index) Skipped() int { return i.skipped }

// Size returns an estimate of the memory the table holds, in bytes; the
// Cache bounds itself with it.
func (i *Index) Size() int64 { return i.size }

// Versions returns the versions of the chart name, newest first (Helm's
// order), or nil.
func (i *Index) Versions(name string) []ChartVersion {
	es := i.charts[name]
	out := make([]ChartVersion, len(es))
	for k := range es {
		out[k] = es[k].chartVersion(name)
	}
	return out
}

func (e *entry) chartVersion(name string) ChartVersion {
	return ChartVersion{
		Name:       name,
		Version:    e.version,
		Digest:     e.digest,
		URLs:       append([]string(nil), e.urls...),
		Created:    e.created,
		Deprecated: e.deprecated,
	}
}

// Get returns the version of chart name that constraint selects, with
// Helm's rules (repo.IndexFile.Get): an empty constraint means "*", the
// latest stable version; a version written exactly as in the index is
// taken as is; otherwise the newest version satisfying the
// Masterminds/semver constraint, prereleases only when the constraint
// names one (">=1.0.0-0"); versions equal but for build metadata are
// ordered as Helm's sort leaves them.
func (i *Index) Get(name, constraint string) (ChartVersion, error) {
	es, ok := i.charts[name]
	if !ok {
		return ChartVersion{}, fmt.Errorf("%w: %q", ErrChartNotFound, name)
	}
	if len(es) == 0 {
		return ChartVersion{}, fmt.Errorf("chart %q: %w: the index lists no version", name, ErrVersionNotFound)
	}
	k, err := selectVersion(len(es), func(k int) string { return es[k].version }, constraint)
	if err != nil {
		return ChartVersion{}, fmt.Errorf("chart %q: %w", name, err)
	}
	return es[k].chartVersion(name), nil
}

// selectVersion returns the index of the version constraint selects among
// n versions sorted newest first: an exact string match, else the first
// satisfying the constraint ("*" when empty).
func selectVersion(n int, version func(int) string, constraint string) (int, error) {
	c := constraint
	if c == "" {
		c = "*"
	}
	cons, err := semver.NewConstraint(c)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalidConstraint, constraint)
	}
	if constraint != "" {
		for k := range n {
			if version(k) == constraint {
				return k, nil
			}
		}
	}
	for k := range n {
		v, err := semver.NewVersion(version(k))
		if err != nil {
			continue
		}
		if cons.Check(v) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrVersionNotFound, constraint)
}

// builder collects entries into an Index. Entries arrive in chunks that
// may be decoded out of order; each carries the sequence number of its
// place in the document, which restores the document's order.
type builder struct {
	charts      map[string]*chartBuild
	versions    int
	skipped     int
	maxVersions int
}

type chartBuild struct {
	reset  int // chunks before this sequence number are replaced
	chunks []chunk
}

type chunk struct {
	seq int
	es  []entry
}

func newBuilder(maxVersions int) *builder {
	return &builder{charts: map[string]*chartBuild{}, maxVersions: maxVersions}
}

// startChart (re)starts the list of versions of name at seq: a later list
// of the same chart replaces an earlier one, as decoding into Helm's map
// does.
func (b *builder) startChart(name string, seq int) {
	c := b.charts[name]
	if c == nil {
		c = &chartBuild{reset: seq}
		b.charts[name] = c
	}
	if seq > c.reset {
		c.reset = seq
	}
}

// addChunk adds the entries found at seq for chart name.
func (b *builder) addChunk(name string, seq int, es []entry, skipped int) error {
	b.skipped += skipped
	if len(es) == 0 {
		return nil
	}
	b.versions += len(es)
	if b.versions > b.maxVersions {
		return &IndexError{Chart: name, Reason: fmt.Sprintf("more than %d chart versions", b.maxVersions), Err: ErrLimitExceeded}
	}
	c := b.charts[name]
	if c == nil {
		c = &chartBuild{}
		b.charts[name] = c
	}
	c.chunks = append(c.chunks, chunk{seq, es})
	return nil
}

// finish puts each chart's entries in document order, sorts them as Helm's
// IndexFile.SortEntries does and builds the Index.
func (b *builder) finish(apiVersion string, generated time.Time) *Index {
	idx := &Index{apiVersion: apiVersion, generated: generated, charts: make(map[string][]entry, len(b.charts)), skipped: b.skipped}
	var size int64
	for name, c := range b.charts {
		sort.Slice(c.chunks, func(x, y int) bool { return c.chunks[x].seq < c.chunks[y].seq })
		n := 0
		for _, ch := range c.chunks {
			if ch.seq >= c.reset {
				n += len(ch.es)
			}
		}
		es := make([]entry, 0, n)
		for _, ch := range c.chunks {
			if ch.seq >= c.reset {
				es = append(es, ch.es...)
			}
		}
		sortLikeHelm(es)
		idx.charts[name] = es
		idx.versions += len(es)
		idx.names = append(idx.names, name)
		size += int64(len(name)) + 64
		for k := range es {
			e := &es[k]
			size += int64(unsafe.Sizeof(*e)) + int64(len(e.version)+len(e.digest)) + 24*int64(len(e.urls))
			for _, u := range e.urls {
				size += int64(len(u))
			}
		}
	}
	sort.Strings(idx.names)
	idx.size = size
	return idx
}

// helmOrder sorts like sort.Sort(sort.Reverse(repo.ChartVersions)): the
// same algorithm fed the same comparisons in the same order, so versions
// equal in semver order ("1.0.0+a" and "1.0.0+b", "v1.0.0" and "1.0.0")
// end up where Helm leaves them.
type helmOrder struct {
	es []entry
	vs []*semver.Version
}

func (h helmOrder) Len() int { return len(h.es) }
func (h helmOrder) Swap(i, j int) {
	h.es[i], h.es[j] = h.es[j], h.es[i]
	h.vs[i], h.vs[j] = h.vs[j], h.vs[i]
}

// Less is ChartVersions.Less: a version that does not parse sorts first.
func (h helmOrder) Less(a, b int) bool {
	if h.vs[a] == nil {
		return true
	}
	if h.vs[b] == nil {
		return false
	}
	return h.vs[a].LessThan(h.vs[b])
}

func sortLikeHelm(es []entry) {
	vs := make([]*semver.Version, len(es))
	for k := range es {
		vs[k], _ = semver.NewVersion(es[k].version)
	}
	sort.Sort(sort.Reverse(helmOrder{es, vs}))
}
