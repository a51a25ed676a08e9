// Package gogit gets revisions from git remotes and writes back to them,
// built on go-git.
//
// A Client talks to one remote. Clone checks a revision out as a git
// repository; Export writes a revision's files only, fetching incrementally
// through a Cache; both skip all work when CloneOptions.LastRevision is still
// current (one ls-remote round trip). CloneCached is Clone through the
// Cache: it fetches like Export, then links the cache's packs into a
// repository of its own. Init, Commit, SwitchBranch and Push write back.
//
// What to check out follows git.Reference's precedence:
// Commit > Name > SemVer > Tag > Branch > remote HEAD. Fetches are shallow
// (depth 1) unless CloneOptions.Full.
//
// Every call that talks to a remote is bounded: a fetch receives at most
// CloneOptions.MaxFetchSize bytes of pack data (DefaultMaxFetchSize, 1 GiB,
// by default; git.ErrSizeLimit past it), and each call ends after its
// Timeout (DefaultTimeout, 10 minutes, by default) or when ctx ends.
//
// Export into a folder it wrote before updates it in place: only the files
// that differ between the two revisions are written or removed, after the
// folder has been checked against what the previous Export recorded; a
// folder changed since is written whole again.
//
// Nothing is installed in go-git's global protocol table: CA bundles, client
// certificates and proxies are passed per call, and errors are scrubbed of
// credentials and URL userinfo before they are returned.
package gogit
