// Package gittest is an in-process git server for tests: bare repositories
// served over smart HTTP (protocol v0), HTTPS with its own CA (optionally
// requiring client certificates), and SSH with public-key auth, with basic
// or bearer auth and a read-only mode. Repository helpers write commits,
// branches, lightweight and annotated tags (optionally signed) directly as
// objects, so large histories build quickly. A stock git client can clone
// from it.
package gittest
