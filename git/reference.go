package git

import (
	"fmt"
	"regexp"
	"strings"
)

// Reference selects what to check out. Zero value: the remote's HEAD.
// When several fields are set the precedence is
// Commit > Name > SemVer > Tag > Branch (see the package documentation);
// Branch still narrows the fetch when Commit is set.
type Reference struct {
	// Branch is a branch name, such as "main".
	Branch string
	// Tag is a tag name, such as "v1.2.0".
	Tag string
	// SemVer is a Masterminds/semver/v3 constraint, such as ">=1.0.0 <2.0.0",
	// matched against the tags. Prereleases match only when the constraint
	// names a prerelease itself (">=1.0.0-0").
	SemVer string
	// Name is an exact reference name, such as "refs/pull/1/head".
	Name string
	// Commit is a full commit SHA-1 (40 hex characters).
	Commit string
}

var hexSHA1 = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Validate reports malformed fields.
func (r Reference) Validate() error {
	if r.Commit != "" && !hexSHA1.MatchString(r.Commit) {
		return fmt.Errorf("%w: commit %q is not a full lower-case SHA-1", ErrInvalidOptions, r.Commit)
	}
	if r.Name != "" && !strings.HasPrefix(r.Name, "refs/") {
		return fmt.Errorf("%w: reference name %q must start with refs/", ErrInvalidOptions, r.Name)
	}
	for _, s := range []string{r.Branch, r.Tag, r.Name} {
		if strings.ContainsAny(s, " ~^:?*[\\\x00") || strings.Contains(s, "..") {
			return fmt.Errorf("%w: invalid reference %q", ErrInvalidOptions, s)
		}
	}
	return nil
}

// String describes the reference for messages, following the precedence.
func (r Reference) String() string {
	switch {
	case r.Commit != "" && r.Branch != "":
		return "commit " + r.Commit + " on branch " + r.Branch
	case r.Commit != "":
		return "commit " + r.Commit
	case r.Name != "":
		return "reference " + r.Name
	case r.SemVer != "":
		return "semver " + r.SemVer
	case r.Tag != "":
		return "tag " + r.Tag
	case r.Branch != "":
		return "branch " + r.Branch
	}
	return "remote HEAD"
}
