// Package git holds the types shared by the gitopskit git packages: the
// Commit and Tag a checkout produces, the Reference that selects what to
// check out, revision strings in the Flux format (`main@sha1:<hex>`), the
// AuthOptions that carry credentials, and the sentinel errors callers branch
// on.
//
// The work is done by sub-packages:
//
//   - gogit: clone, no-op detection, incremental fetch through a cache,
//     commit and push, built on go-git;
//   - verify: OpenPGP and SSH (sshsig) signature verification of commits and
//     tags;
//   - gittest: an in-process git server (smart HTTP, HTTPS and SSH) for tests.
//
// # Checkout precedence
//
// A Reference may set several fields; the most specific one wins:
//
//	Commit (optionally with Branch, to fetch shallowly)
//	  > Name (an exact reference such as refs/pull/1/head)
//	  > SemVer (a Masterminds/semver/v3 constraint over tags)
//	  > Tag
//	  > Branch
//	  > the remote's HEAD, when nothing is set.
package git
