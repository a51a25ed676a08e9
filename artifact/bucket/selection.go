package bucket

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/internal/ignore"
)

const maxIgnoreFileSize = ignore.MaxFileSize

var errIgnoreFileTooLarge = archive.ErrIgnoreFileTooLarge

func ignoreLines(data []byte) []string { return ignore.Lines(data) }

// entry is a listed object with its key split into path elements.
type entry struct {
	elems []string
	obj   Object
}

type selection struct {
	objects []Object
	ignored int
}

// selector applies the ignore rules to a listing as archive.Build applies
// them to a directory tree: walking the folders the keys make, depth
// first, it reads a folder's .sourceignore (whether or not that object is
// itself left out) before it matches the folder's entries, with
// archive.DefaultIgnorePatterns first, then the .sourceignore patterns of
// the folder and its parents, then the caller's. A folder left out is not
// entered: its .sourceignore objects are never read.
type selector struct {
	ctx    context.Context
	caller []gitignore.Pattern
	noFile bool
	read   func(Object) ([]string, error)
	out    selection
}

// selectObjects returns the objects of entries the ignore rules keep, in
// byte order of their keys, and refuses keys listed twice and keys that
// are both a selected object and the folder of another.
func selectObjects(ctx context.Context, entries []entry, opts ListOptions, read func(Object) ([]string, error)) (selection, error) {
	slices.SortFunc(entries, func(a, b entry) int { return slices.Compare(a.elems, b.elems) })
	for i := 1; i < len(entries); i++ {
		if slices.Equal(entries[i-1].elems, entries[i].elems) {
			return selection{}, fmt.Errorf("key %s: %w: listed twice", quoteKey(entries[i].obj.Key), ErrUnsafeKey)
		}
	}
	s := &selector{ctx: ctx, caller: ignore.Parse(opts.Ignore, nil), noFile: opts.NoIgnoreFile, read: read}
	var base []gitignore.Pattern
	if !opts.NoDefaultIgnore {
		base = ignore.Parse(archive.DefaultIgnorePatterns(), nil)
	}
	if err := s.walk(nil, entries, base); err != nil {
		return selection{}, err
	}
	slices.SortFunc(s.out.objects, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return s.out, nil
}

// walk selects among entries, every one below the folder rel (a prefix of
// their elements), sorted by elements.
func (s *selector) walk(rel []string, entries []entry, base []gitignore.Pattern) error {
	d := len(rel)
	if !s.noFile {
		// Entries are sorted by their element at d: the folder's own
		// .sourceignore, if any, starts the group of that name.
		i, found := slices.BinarySearchFunc(entries, archive.IgnoreFile, func(e entry, name string) int { return strings.Compare(e.elems[d], name) })
		if found && len(entries[i].elems) == d+1 {
			lines, err := s.read(entries[i].obj)
			if err != nil {
				return err
			}
			base = append(slices.Clip(base), ignore.Parse(lines, slices.Clone(rel))...)
		}
	}
	matcher := gitignore.NewMatcher(append(slices.Clip(base), s.caller...))
	for i := 0; i < len(entries); {
		if err := s.ctx.Err(); err != nil {
			return context.Cause(s.ctx)
		}
		name := entries[i].elems[d]
		j := i + 1
		for j < len(entries) && entries[j].elems[d] == name {
			j++
		}
		group := entries[i:j]
		i = j
		elems := append(slices.Clip(rel), name)
		var file *entry
		if len(group[0].elems) == d+1 { // sorted: the object comes before what is below it
			file, group = &group[0], group[1:]
		}
		var folderKept string // a selected key below elems
		if len(group) > 0 {
			if matcher.Match(elems, true) {
				s.out.ignored += len(group)
			} else {
				n := len(s.out.objects)
				if err := s.walk(elems, group, base); err != nil {
					return err
				}
				if len(s.out.objects) > n {
					folderKept = s.out.objects[n].Key
				}
			}
		}
		if file == nil {
			continue
		}
		if matcher.Match(elems, false) {
			s.out.ignored++
			continue
		}
		if folderKept != "" {
			return fmt.Errorf("key %s: %w: it is also the folder of %s", quoteKey(file.obj.Key), ErrUnsafeKey, quoteKey(folderKept))
		}
		s.out.objects = append(s.out.objects, file.obj)
	}
	return nil
}
