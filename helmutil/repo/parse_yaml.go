package repo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// yamlParser cuts a block-style index into pieces: the top-level fields
// other than entries (decoded together at the end) and, under entries, one
// piece per chart version (decoded and dropped as soon as it is complete).
type yamlParser struct {
	ctx context.Context
	br  *bufio.Reader
	lim limits
	b   *builder
	sc  scanner

	lineNo  int
	line    []byte
	long    []byte // holds a line longer than the reader's buffer
	kind    lineKind
	ind     int
	pending bool
	eof     bool

	top     []byte
	entries bool // an entries key was seen

	// The piece being collected: a batch of consecutive versions of one
	// chart, or an inline chart or entries value.
	piece      *job
	pieceKind  int
	pieceChart string
	pieceLine  int
	itemStart  int // offset of the current item in piece.data

	seq    int
	resets map[string]int
	pool   *decodePool
}

const (
	noPiece = iota
	itemPiece
	inlineChartPiece
	inlineEntriesPiece
)

func (p *yamlParser) errorf(limit bool, chart, format string, args ...any) error {
	err := ErrInvalidIndex
	if limit {
		err = ErrLimitExceeded
	}
	return &IndexError{Line: p.lineNo, Chart: chart, Reason: fmt.Sprintf(format, args...), Err: err}
}

// read makes the next line current; false at the end of the document.
func (p *yamlParser) read() (bool, error) {
	if p.pending {
		p.pending = false
		return true, nil
	}
	if p.eof {
		return false, nil
	}
	if p.lineNo%1024 == 0 {
		if err := p.ctx.Err(); err != nil {
			return false, err
		}
	}
	line, err := p.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		p.long = append(p.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(p.long) > p.lim.maxEntry {
				return false, p.errorf(true, "", "line longer than %d bytes", p.lim.maxEntry)
			}
			line, err = p.br.ReadSlice('\n')
			p.long = append(p.long, line...)
		}
		line = p.long
	}
	switch {
	case errors.Is(err, io.EOF):
		p.eof = true
		if len(line) == 0 {
			return false, nil
		}
	case err != nil:
		return false, readErr(err)
	}
	p.lineNo++
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > p.lim.maxEntry {
		return false, p.errorf(true, "", "line longer than %d bytes", p.lim.maxEntry)
	}
	p.line = line
	p.kind, p.ind = p.sc.next(line)
	return true, nil
}

func (p *yamlParser) unread() { p.pending = true }

func (p *yamlParser) appendTop() error {
	p.top = append(append(p.top, p.line...), '\n')
	if len(p.top) > p.lim.maxEntry {
		return p.errorf(true, "", "top-level fields other than entries larger than %d bytes", p.lim.maxEntry)
	}
	return nil
}

// batchBytes is the size at which a batch of versions is handed to a
// decoder: large enough to amortise a decoder's set-up, small enough to
// keep memory flat.
const batchBytes = 64 << 10

// open starts a piece of the given kind with the current line: a new
// version of chart (added to the current batch when it is of the same
// chart and not full), or an inline value.
func (p *yamlParser) open(kind int, chart string) error {
	if p.piece != nil && (kind != itemPiece || p.pieceKind != itemPiece || p.pieceChart != chart || len(p.piece.data) >= batchBytes) {
		if err := p.flush(); err != nil {
			return err
		}
	}
	if p.piece == nil {
		p.seq++
		p.piece = &job{seq: p.seq, kind: kind, chart: chart, line: p.lineNo}
		p.pieceKind, p.pieceChart = kind, chart
	}
	p.pieceLine = p.lineNo
	p.itemStart = len(p.piece.data)
	if kind == itemPiece {
		p.piece.items = append(p.piece.items, itemPos{off: p.itemStart, line: p.lineNo})
	}
	return p.appendPiece()
}

func (p *yamlParser) appendPiece() error {
	p.piece.data = append(append(p.piece.data, p.line...), '\n')
	if len(p.piece.data)-p.itemStart > p.lim.maxEntry {
		return &IndexError{Line: p.pieceLine, Chart: p.pieceChart, Reason: fmt.Sprintf("entry larger than %d bytes", p.lim.maxEntry), Err: ErrLimitExceeded}
	}
	return nil
}

// flush hands the piece being collected, if any, to the decoders.
func (p *yamlParser) flush() error {
	if p.piece == nil {
		return nil
	}
	j := p.piece
	p.piece, p.pieceKind = nil, noPiece
	return p.pool.submit(j)
}

// startChart records that chart name starts (or starts again) here.
func (p *yamlParser) startChart(name string) {
	p.seq++
	p.resets[name] = p.seq
}

// keyText returns the current line's first mapping key as the decoder
// reads it, and the text after its ':' (comment included).
func (p *yamlParser) key() (string, []byte, error) {
	if p.sc.keyStart < 0 {
		return "", nil, p.errorf(false, "", "expected a mapping key")
	}
	raw := p.line[p.sc.keyStart:p.sc.keyEnd]
	rest := p.line[p.sc.valStart:]
	if k, ok := plainKey(raw); ok {
		return k, rest, nil
	}
	// Anything but a plain word: let the decoder Helm uses read the key,
	// so a quoted, escaped or tagged key means what it means to Helm.
	var m map[string]int
	if err := yaml.UnmarshalStrict(append(append([]byte(nil), raw...), ": 0"...), &m); err != nil || len(m) != 1 {
		return "", nil, p.errorf(false, "", "mapping key does not decode")
	}
	for k := range m {
		return k, rest, nil
	}
	return "", nil, nil
}

// plainKey recognises keys that decode to their own text: a letter, then
// letters, digits, '-', '_', '.', '/', and not a YAML 1.1 boolean or null.
func plainKey(b []byte) (string, bool) {
	if len(b) == 0 || !(b[0] >= 'a' && b[0] <= 'z' || b[0] >= 'A' && b[0] <= 'Z') {
		return "", false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return "", false
		}
	}
	switch strings.ToLower(string(b)) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
		return "", false
	}
	return string(b), true
}

// hasValue reports text after a key other than blanks and a comment.
func hasValue(rest []byte) bool {
	for i, c := range rest {
		if c == '#' && (i == 0 || isBlank(rest[i-1])) {
			return false
		}
		if !isBlank(c) {
			return true
		}
	}
	return false
}

func (p *yamlParser) parse(top *topFields) error {
	p.resets = map[string]int{}
	p.pool = newDecodePool(p.b)
	err := p.parseDocument(top)
	// A decoding error is about lines before any the reader stopped at, so
	// it comes first (a cancellation aside).
	if perr := p.pool.wait(); perr != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = perr
	}
	for name, seq := range p.resets {
		p.b.startChart(name, seq)
	}
	return err
}

func (p *yamlParser) parseDocument(top *topFields) error {
	t := -1
	started := false
	for {
		ok, err := p.read()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch p.kind {
		case lineDirective:
			if started {
				return p.errorf(false, "", "directive inside the document")
			}
			continue
		case lineDocStart, lineDocEnd:
			if started {
				// The first document is the index, as for Helm's decoder.
				goto done
			}
			continue
		case lineBlank, lineContinued:
			if started {
				if err := p.appendTop(); err != nil {
					return err
				}
			}
			continue
		}
		if t < 0 {
			t = p.ind
		}
		started = true
		switch {
		case p.ind < t:
			return p.errorf(false, "", "line indented less than the top level")
		case p.ind > t:
			if err := p.appendTop(); err != nil {
				return err
			}
			continue
		}
		if p.sc.seqItem {
			return p.errorf(false, "", "the index is not a mapping")
		}
		k, rest, err := p.key()
		if err != nil {
			return err
		}
		if !strings.EqualFold(k, "entries") {
			if err := p.appendTop(); err != nil {
				return err
			}
			continue
		}
		if p.entries && k == "entries" {
			return p.errorf(false, "", "entries given twice")
		}
		p.entries = true
		if err := p.parseEntries(t, rest); err != nil {
			return err
		}
	}
done:
	if err := p.flush(); err != nil {
		return err
	}
	if !started {
		return &IndexError{Reason: "empty index", Err: ErrInvalidIndex}
	}
	if err := yaml.UnmarshalStrict(p.top, top); err != nil {
		return &IndexError{Reason: "top-level fields do not decode: " + err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidIndex, err)}
	}
	return nil
}

// parseEntries reads the entries map, whose key is the current line, up to
// the next line at the top level (left pending).
func (p *yamlParser) parseEntries(t int, rest []byte) error {
	if hasValue(rest) {
		// entries: {} or an entries map in flow style: one piece.
		if err := p.open(inlineEntriesPiece, ""); err != nil {
			return err
		}
		for {
			ok, err := p.read()
			if err != nil || !ok {
				return err
			}
			if p.kind == lineNode && p.ind <= t || p.kind >= lineDocStart {
				p.unread()
				return p.flush()
			}
			if err := p.appendPiece(); err != nil {
				return err
			}
		}
	}
	e, s := -1, -1
	chart := ""
	inline := false
	seen := map[string]bool{}
	for {
		ok, err := p.read()
		if err != nil {
			return err
		}
		if !ok {
			return p.flush()
		}
		switch p.kind {
		case lineBlank, lineContinued:
			if p.piece != nil {
				if err := p.appendPiece(); err != nil {
					return err
				}
			} else if p.kind == lineContinued {
				return p.errorf(false, chart, "continuation line outside an entry")
			}
			continue
		case lineDocStart, lineDocEnd, lineDirective:
			p.unread()
			return p.flush()
		}
		if p.ind <= t {
			p.unread()
			return p.flush()
		}
		if e < 0 {
			e = p.ind
		}
		switch {
		case p.ind == e && !p.sc.seqItem:
			// A chart's name.
			if err := p.flush(); err != nil {
				return err
			}
			name, rest, err := p.key()
			if err != nil {
				return err
			}
			if seen[name] {
				return p.errorf(false, name, "chart listed twice")
			}
			seen[name] = true
			chart, s, inline = name, -1, hasValue(rest)
			p.startChart(name)
			if inline {
				if err := p.open(inlineChartPiece, name); err != nil {
					return err
				}
			}
		case p.ind < e:
			return p.errorf(false, chart, "chart name indented less than the first one")
		case p.sc.seqItem && chart != "" && !inline && (s < 0 || p.ind == s):
			// A version of the chart.
			s = p.ind
			if err := p.open(itemPiece, chart); err != nil {
				return err
			}
		case p.piece != nil && (p.pieceKind == itemPiece && p.ind > s || p.pieceKind == inlineChartPiece && p.ind > e):
			if err := p.appendPiece(); err != nil {
				return err
			}
		default:
			return p.errorf(false, chart, "chart versions are not a list of entries")
		}
	}
}
