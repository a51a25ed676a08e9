package gitopsctl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits on what gitopsctl reads from files a user names (manifests to
// convert, a Kustomization file, credentials).
const (
	// maxInputFile bounds one file.
	maxInputFile = 8 << 20
	// maxInputTotal bounds every file of one convert together.
	maxInputTotal = 64 << 20
	// maxInputFiles bounds the files of a folder given to convert.
	maxInputFiles = 10_000
	// maxDocuments bounds the YAML documents of one file.
	maxDocuments = 10_000
)

// errTooLarge is an input over a limit.
var errTooLarge = errors.New("input too large")

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllBounded(f, path, max)
}

// readAllBounded reads r to its end, failing past max bytes.
func readAllBounded(r io.Reader, name string, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", name, errTooLarge, max)
	}
	return data, nil
}

// document is one YAML document of a stream, as written.
type document struct {
	// text is the document without its "---" line.
	text []byte
	// sep is the separator line that preceded it ("" for the first).
	sep []byte
	// line is the 1-based line of the document's first line.
	line int
}

// splitDocuments splits a YAML stream at its "---" lines (a line that is
// "---" alone or followed by a blank and more). A "---" inside a block
// scalar would be indented, so it is never mistaken for a separator.
func splitDocuments(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	start, line := 0, 1
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		var l []byte
		next := len(data) + 1
		if end < 0 {
			l = data[i:]
		} else {
			l = data[i : i+end]
			next = i + end + 1
		}
		if isSeparator(l) {
			cur.text = data[start:i]
			docs = append(docs, cur)
			cur = document{sep: data[i:min(next, len(data))], line: line + 1}
			start = min(next, len(data))
		}
		i = next
		line++
	}
	cur.text = data[start:]
	docs = append(docs, cur)
	return docs
}

func isSeparator(l []byte) bool {
	l = bytes.TrimRight(l, "\r")
	if !bytes.HasPrefix(l, []byte("---")) {
		return false
	}
	rest := l[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t'
}
