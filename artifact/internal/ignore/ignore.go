package ignore

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// MaxFileSize bounds one .sourceignore file, in bytes.
const MaxFileSize = 1 << 20

// Parse turns lines in .gitignore syntax into patterns that apply to the
// directory whose path elements are domain (nil for the root). Blank lines
// and comments are dropped, and a trailing carriage return is ignored.
func Parse(lines []string, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(l, domain))
	}
	return ps
}

// Lines splits the content of an ignore file into lines for Parse.
func Lines(data []byte) []string { return strings.Split(string(data), "\n") }
