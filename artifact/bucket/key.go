package bucket

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of an object key, as a path below the destination.
const (
	// MaxKeyLength is the longest key accepted, in bytes (Amazon S3's own
	// limit).
	MaxKeyLength = 1024
	// maxElementLength is the longest path element (NAME_MAX).
	maxElementLength = 255
)

// splitKey returns the path elements of an object key, or an error
// wrapping ErrUnsafeKey when the key cannot name a file inside the
// destination: empty, longer than MaxKeyLength, not UTF-8, absolute,
// holding a backslash or a control character, or an empty, "." or ".."
// element, or an element longer than 255 bytes. A key ending in "/" (a
// folder marker) is checked without its final slash.
func splitKey(key string) ([]string, error) {
	unsafe := func(why string) error {
		return fmt.Errorf("key %s: %w: %s", quoteKey(key), ErrUnsafeKey, why)
	}
	switch {
	case key == "":
		return nil, unsafe("empty")
	case len(key) > MaxKeyLength:
		return nil, unsafe(fmt.Sprintf("longer than %d bytes", MaxKeyLength))
	case !utf8.ValidString(key):
		return nil, unsafe("not UTF-8")
	case key[0] == '/':
		return nil, unsafe("absolute")
	case strings.ContainsRune(key, '\\'):
		return nil, unsafe("backslash")
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return nil, unsafe("control character")
	}
	elems := strings.Split(strings.TrimSuffix(key, "/"), "/")
	for _, e := range elems {
		switch {
		case e == "":
			return nil, unsafe("empty path element")
		case e == "." || e == "..":
			return nil, unsafe(fmt.Sprintf("%q path element", e))
		case len(e) > maxElementLength:
			return nil, unsafe(fmt.Sprintf("path element longer than %d bytes", maxElementLength))
		}
	}
	return elems, nil
}

// isFolderMarker reports whether key is a folder marker ("dir/"), the
// empty object consoles create to show a folder: it holds no file.
func isFolderMarker(key string) bool { return strings.HasSuffix(key, "/") }
