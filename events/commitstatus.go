package events

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrNoRevision is returned (wrapped, and Permanent) for an event a
// commit-status provider cannot act on: no revision metadata, or a revision
// that names no commit.
var ErrNoRevision = errors.New("event names no commit")

// progressingReason is the reason of an event sent while work is under way
// (runtime/conditions.ProgressingReason, Flux's meta.ProgressingReason).
const progressingReason = "Progressing"

// NewCommitStatus derives the commit status an event asks for: the commit
// from its revision metadata (commit, originRevision, revision), pending for
// a Progressing reason, failure for an error, success otherwise. The
// context is "<kind>/<name>/<first part of providerID>" in lower case —
// Flux's default, so statuses keep their names across a migration — or
// "<kind>/<name>" when providerID is empty.
func NewCommitStatus(e *Event, providerID string) (*CommitStatus, error) {
	rev, ok := e.Revision()
	if !ok {
		return nil, Permanent(fmt.Errorf("%w: no revision metadata", ErrNoRevision))
	}
	commit, err := CommitFromRevision(rev)
	if err != nil {
		return nil, Permanent(fmt.Errorf("%w: %w", ErrNoRevision, err))
	}
	state := CommitSuccess
	switch {
	case e.Reason == progressingReason:
		state = CommitPending
	case e.Severity == SeverityError:
		state = CommitFailure
	}
	id := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
	if providerID != "" {
		first, _, _ := strings.Cut(providerID, "-")
		id += "/" + first
	}
	return &CommitStatus{
		Commit:      commit,
		State:       state,
		Context:     strings.ToLower(id),
		Description: strings.ToLower(strings.Join(SplitCamelCase(e.Reason), " ")),
	}, nil
}

// SplitCamelCase splits "ReconciliationFailed" into "Reconciliation",
// "Failed", keeping acronyms whole ("HTTPError" → "HTTP", "Error"). Invalid
// UTF-8 is returned whole.
func SplitCamelCase(s string) []string {
	if !utf8.ValidString(s) || s == "" {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	class := func(r rune) int {
		switch {
		case unicode.IsLower(r):
			return 1
		case unicode.IsUpper(r):
			return 2
		case unicode.IsDigit(r):
			return 3
		}
		return 4
	}
	var groups [][]rune
	last := 0
	for _, r := range s {
		c := class(r)
		if c == last {
			groups[len(groups)-1] = append(groups[len(groups)-1], r)
		} else {
			groups = append(groups, []rune{r})
		}
		last = c
	}
	// "HTTPE","rror" → "HTTP","Error": an upper run followed by lower case
	// gives its last letter to the next word.
	for i := 0; i < len(groups)-1; i++ {
		g := groups[i]
		if len(g) > 0 && unicode.IsUpper(g[0]) && unicode.IsLower(groups[i+1][0]) {
			groups[i+1] = append([]rune{g[len(g)-1]}, groups[i+1]...)
			groups[i] = g[:len(g)-1]
		}
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		w := string(g)
		if len(g) == 0 || (class(g[0]) == 4 && strings.Trim(w, "_-. \t") == "") {
			continue
		}
		out = append(out, w)
	}
	return out
}
