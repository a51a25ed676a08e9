package git_test

import (
	"errors"
	"testing"

	"github.com/gitopskit/kit/git"
)

func TestRevision(t *testing.T) {
	t.Parallel()
	h := "0123456789abcdef0123456789abcdef01234567"
	for ref, want := range map[string]string{
		"refs/heads/main": "main@sha1:" + h, "refs/tags/v1.2.0": "v1.2.0@sha1:" + h,
		"refs/pull/1/head": "refs/pull/1/head@sha1:" + h, "": "sha1:" + h,
	} {
		c := &git.Commit{Hash: h, Reference: ref}
		if got := c.Revision(); got != want {
			t.Errorf("%q: %s, want %s", ref, got, want)
		}
		name, hash, err := git.ParseRevision(want)
		if err != nil || hash != h || name != git.ShortName(ref) {
			t.Errorf("ParseRevision(%s) = %q %q %v", want, name, hash, err)
		}
	}
	if _, _, err := git.ParseRevision("main@sha1:xyz"); !errors.Is(err, git.ErrInvalidOptions) {
		t.Errorf("malformed revision accepted: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:tok@host/r.git": "https://host/r.git",
		"ssh://git:pw@host/r.git":     "ssh://git@host/r.git",
		"https://host/r.git":          "https://host/r.git",
	} {
		if got := git.RedactURL(in); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseRevision(f *testing.F) {
	f.Add("main@sha1:0123456789abcdef0123456789abcdef01234567")
	f.Add("sha1:00")
	f.Fuzz(func(t *testing.T, s string) { _, _, _ = git.ParseRevision(s) })
}
