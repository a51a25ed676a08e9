package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	repov1 "helm.sh/helm/v4/pkg/repo/v1"
)

// windowReader refuses to let the JSON decoder buffer more than max bytes
// beyond what it has consumed, which bounds the size of one value (one
// chart version) in memory.
type windowReader struct {
	r   io.Reader
	n   int64
	max int64
	dec *json.Decoder
}

func (w *windowReader) Read(p []byte) (int, error) {
	if w.dec != nil && w.n-w.dec.InputOffset() > w.max {
		return 0, &IndexError{Reason: fmt.Sprintf("json value larger than %d bytes", w.max), Err: ErrLimitExceeded}
	}
	n, err := w.r.Read(p)
	w.n += int64(n)
	return n, err
}

// parseJSON reads an index in JSON, token by token under entries and one
// chart version at a time, decoding like Helm's json.Unmarshal does (keys
// matched without regard to case, unknown fields ignored, a later key
// replacing an earlier one).
func parseJSON(ctx context.Context, r io.Reader, _ *countingReader, b *builder, lim limits, top *topFields) error {
	w := &windowReader{r: r, max: int64(lim.maxEntry) + 64<<10}
	dec := json.NewDecoder(w)
	w.dec = dec
	jerr := func(err error, chart string) error {
		var ie *IndexError
		if errors.As(err, &ie) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return &IndexError{Chart: chart, Reason: fmt.Sprintf("json at byte %d: %v", dec.InputOffset(), err), Err: fmt.Errorf("%w: %w", ErrInvalidIndex, err)}
	}
	delim := func(want json.Delim, chart string) (bool, error) {
		tok, err := dec.Token()
		if err != nil {
			return false, jerr(err, chart)
		}
		if tok == nil {
			return false, nil
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return false, &IndexError{Chart: chart, Reason: fmt.Sprintf("json at byte %d: expected %q", dec.InputOffset(), want), Err: ErrInvalidIndex}
		}
		return true, nil
	}
	if ok, err := delim('{', ""); err != nil || !ok {
		if err == nil {
			err = &IndexError{Reason: "json index is null", Err: ErrInvalidIndex}
		}
		return err
	}
	seq := 0
	rest := map[string]json.RawMessage{}
	restSize := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jerr(err, "")
		}
		key, _ := tok.(string)
		if !strings.EqualFold(key, "entries") {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return jerr(err, "")
			}
			restSize += len(raw) + len(key)
			if restSize > lim.maxEntry {
				return &IndexError{Reason: fmt.Sprintf("top-level fields other than entries larger than %d bytes", lim.maxEntry), Err: ErrLimitExceeded}
			}
			rest[key] = raw
			continue
		}
		ok, err := delim('{', "")
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		for dec.More() {
			if err := ctx.Err(); err != nil {
				return err
			}
			tok, err := dec.Token()
			if err != nil {
				return jerr(err, "")
			}
			name, _ := tok.(string)
			seq++
			b.startChart(name, seq)
			ok, err := delim('[', name)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			var cvs []*repov1.ChartVersion
			for dec.More() {
				var cv *repov1.ChartVersion
				if err := dec.Decode(&cv); err != nil {
					return jerr(err, name)
				}
				cvs = append(cvs, cv)
				if len(cvs) == 256 {
					es, skipped := toEntries(cvs)
					if err := b.addChunk(name, seq, es, skipped); err != nil {
						return err
					}
					cvs = cvs[:0]
				}
			}
			es, skipped := toEntries(cvs)
			if err := b.addChunk(name, seq, es, skipped); err != nil {
				return err
			}
			if _, err := delim(']', name); err != nil {
				return err
			}
		}
		if _, err := delim('}', ""); err != nil {
			return err
		}
	}
	if _, err := delim('}', ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			return &IndexError{Reason: fmt.Sprintf("json at byte %d: data after the index", dec.InputOffset()), Err: ErrInvalidIndex}
		}
		return jerr(err, "")
	}
	raw, err := json.Marshal(rest)
	if err != nil {
		return jerr(err, "")
	}
	if err := json.Unmarshal(raw, top); err != nil {
		return &IndexError{Reason: "top-level fields do not decode: " + err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidIndex, err)}
	}
	return nil
}
