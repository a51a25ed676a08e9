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
		"https://user:tok@host/r.git":                  "https://host/r.git",
		"https://ghp_token@host/r.git":                 "https://host/r.git",
		"ssh://git:pw@host/r.git":                      "ssh://git@host/r.git",
		"https://host/r.git":                           "https://host/r.git",
		"https://host/r.git?private_token=glpat-x":     "https://host/r.git?private_token=***",
		"https://host/r.git?access_token=x&ref=main":   "https://host/r.git?access_token=***&ref=main",
		"https://host/r.git#s3cret":                    "https://host/r.git#***",
		"user:pw@host:org/r.git":                       "user@host:org/r.git",
		"git@github.com:org/r.git":                     "git@github.com:org/r.git",
		"https:/user:pw@host/r.git":                    "https:/host/r.git",
		"http:user:pw@host/x":                          "http:host/x",
		"https://user:p@ss/w@host/r.git":               "https://host/r.git",
		"https://host/r.git?X-Amz-Signature=abc&X-A=1": "https://host/r.git?X-Amz-Signature=***&X-A=1",
	} {
		if got := git.RedactURL(in); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCredentialsInURLOverHTTP(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://u:p@host/r.git", "http://tok@host/r.git", "http://host/r.git?private_token=x"} {
		if err := (git.AuthOptions{}).Validate(u); !errors.Is(err, git.ErrInvalidOptions) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidOptions", u, err)
		}
		if err := (git.AuthOptions{AllowInsecureHTTP: true}).Validate(u); err != nil {
			t.Errorf("Validate(%q) with AllowInsecureHTTP = %v", u, err)
		}
	}
	if err := (git.AuthOptions{}).Validate("http://host/r.git"); err != nil {
		t.Errorf("an anonymous http remote: %v", err)
	}
}

func FuzzParseRevision(f *testing.F) {
	f.Add("main@sha1:0123456789abcdef0123456789abcdef01234567")
	f.Add("sha1:00")
	f.Fuzz(func(t *testing.T, s string) { _, _, _ = git.ParseRevision(s) })
}
