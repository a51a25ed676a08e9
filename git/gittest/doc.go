// Package gittest is an in-process git server for tests: bare repositories
// served over smart HTTP (protocol v0), HTTPS with its own CA (optionally
// requiring client certificates), and SSH with public-key auth, with basic
// or bearer auth and a read-only mode. Repository helpers write commits,
// branches, lightweight and annotated tags (optionally signed) directly as
// objects, so large histories build quickly. A stock git client can clone
// from it and fetch into its clones.
//
// A want (an object asked for by id) is served only when an advertised
// reference leads to it: the reference's object, the object an advertised
// tag peels to, or a commit reachable from one (the server advertises
// allow-reachable-sha1-in-want). Anything else, including an object that
// does not exist, is refused with git's "ERR upload-pack: not our ref <id>".
//
// NewServer ties a server to a test. Start runs one in a program instead
// (a demo, a local development tool) until Close.
package gittest
