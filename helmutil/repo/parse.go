package repo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	repov1 "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// Defaults of ParseOptions.
const (
	DefaultMaxIndexBytes int64 = 256 << 20
	DefaultMaxEntryBytes       = 1 << 20
	DefaultMaxVersions         = 1_000_000
)

// ParseOptions bounds a parse. The zero value applies the defaults; a
// negative value removes a limit.
type ParseOptions struct {
	// MaxBytes bounds the index read, in bytes (default 256 MiB).
	MaxBytes int64
	// MaxEntryBytes bounds one chart version's entry, one line, and the
	// top-level fields other than entries (default 1 MiB).
	MaxEntryBytes int
	// MaxVersions bounds the number of chart versions kept (default
	// 1,000,000), and so the table's memory.
	MaxVersions int
}

// LoadIndexFile parses the index file at path (see ParseIndex).
func LoadIndexFile(ctx context.Context, path string, o ParseOptions) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	defer f.Close()
	return ParseIndex(ctx, f, o)
}

// ParseIndex reads a Helm repository index (index.yaml, or its JSON form)
// from r as a stream, keeping only the compact table chart selection
// needs: the YAML tree of the whole index is never built, so memory is the
// table plus one entry at a time, whatever the size of the index.
//
// The answers are Helm's: each version entry is decoded by the decoder
// Helm uses (sigs.k8s.io/yaml, strict, into repo.ChartVersion), entries
// Helm leaves out (invalid metadata) are left out, and versions are sorted
// as repo.IndexFile.SortEntries sorts them, so Get selects what
// repo.IndexFile.Get selects.
//
// A document starting with '{' is read as JSON (as Helm reads an index
// that is valid JSON). Otherwise the document is YAML in block style, the
// layout every index generator writes; the shapes refused with
// ErrInvalidIndex that Helm would read are a top level or an entries map
// in flow style beyond one entry's size, complex keys, and an alias to an
// anchor defined in another chart's entries (or 64 KiB of entries earlier).
func ParseIndex(ctx context.Context, r io.Reader, o ParseOptions) (*Index, error) {
	lim := limitsOf(o)
	cr := &countingReader{r: r, max: lim.maxBytes}
	br := bufio.NewReaderSize(cr, 64<<10)
	// Skip a byte order mark and leading white space to tell JSON from YAML.
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	b := newBuilder(lim.maxVersions)
	var top topFields
	if first == 0 {
		return nil, &IndexError{Reason: "empty index", Err: ErrInvalidIndex}
	}
	if first == '{' {
		err = parseJSON(ctx, br, cr, b, lim, &top)
	} else {
		p := &yamlParser{ctx: ctx, br: br, lim: lim, b: b}
		err = p.parse(&top)
	}
	if err != nil {
		return nil, err
	}
	if top.APIVersion == "" {
		return nil, &IndexError{Reason: "no apiVersion", Err: ErrInvalidIndex}
	}
	return b.finish(top.APIVersion, top.Generated), nil
}

type limits struct {
	maxBytes    int64
	maxEntry    int
	maxVersions int
}

func limitsOf(o ParseOptions) limits {
	l := limits{maxBytes: o.MaxBytes, maxEntry: o.MaxEntryBytes, maxVersions: o.MaxVersions}
	switch {
	case l.maxBytes == 0:
		l.maxBytes = DefaultMaxIndexBytes
	case l.maxBytes < 0:
		l.maxBytes = 1<<63 - 1
	}
	switch {
	case l.maxEntry == 0:
		l.maxEntry = DefaultMaxEntryBytes
	case l.maxEntry < 0:
		l.maxEntry = int(^uint(0) >> 1)
	}
	switch {
	case l.maxVersions == 0:
		l.maxVersions = DefaultMaxVersions
	case l.maxVersions < 0:
		l.maxVersions = int(^uint(0) >> 1)
	}
	return l
}

// topFields are the index's fields other than entries, decoded as Helm
// decodes them (an unknown field is an error in YAML, as in Helm).
type topFields struct {
	ServerInfo  map[string]any    `json:"serverInfo,omitempty"`
	APIVersion  string            `json:"apiVersion"`
	Generated   time.Time         `json:"generated"`
	PublicKeys  []string          `json:"publicKeys,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// countingReader enforces the index size limit.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, &IndexError{Reason: fmt.Sprintf("index larger than %d bytes", c.max), Err: ErrLimitExceeded}
	}
	if rem := c.max - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		if err != nil {
			return 0, readErr(err)
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, br.UnreadByte()
	}
}

// readErr keeps limit errors as they are and marks others as read errors.
func readErr(err error) error {
	var ie *IndexError
	if errors.As(err, &ie) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("read index: %w", err)
}

// toEntries validates decoded entries as Helm's loadIndex does and
// returns their compact form: a nil entry or invalid metadata is skipped.
func toEntries(cvs []*repov1.ChartVersion) ([]entry, int) {
	es := make([]entry, 0, len(cvs))
	skipped := 0
	for _, cv := range cvs {
		if cv == nil {
			skipped++
			continue
		}
		if cv.Metadata == nil {
			cv.Metadata = &chartv2.Metadata{}
		}
		if cv.APIVersion == "" {
			cv.APIVersion = chartv2.APIVersionV1
		}
		if err := cv.Validate(); err != nil && !skippableValidation(err) {
			skipped++
			continue
		}
		created := cv.Created
		if !created.IsZero() {
			created = created.UTC()
		}
		es = append(es, entry{
			version:    cv.Version,
			digest:     cv.Digest,
			urls:       cv.URLs,
			created:    created,
			deprecated: cv.Deprecated,
		})
	}
	return es, skipped
}

// skippableValidation is the validation failure Helm tolerates in an
// index (JFrog strips dependency aliases, https://github.com/helm/helm/issues/12748).
func skippableValidation(err error) bool {
	var verr chartv2.ValidationError
	return errors.As(err, &verr) && strings.HasPrefix(verr.Error(), "validation: more than one dependency with name or alias")
}

// decodeEntry decodes one YAML piece holding a one-item sequence of chart
// versions.
func decodeEntries(piece []byte) ([]*repov1.ChartVersion, error) {
	var cvs []*repov1.ChartVersion
	if err := yaml.UnmarshalStrict(piece, &cvs); err != nil {
		return nil, err
	}
	return cvs, nil
}
