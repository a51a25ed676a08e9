// Package gittest is a git server for tests, served by the git programs
// themselves: git http-backend (through net/http/cgi) for smart HTTP and
// HTTPS with its own CA (optionally requiring client certificates), and
// git-upload-pack and git-receive-pack behind an SSH server with public-key
// auth; basic or bearer auth and a read-only mode are checked in front of
// them. What a test sees is what a user's git server does: protocol v0 and
// v2, shallow fetches, thin packs, negotiation, atomic pushes.
//
// Repository helpers write commits, branches, lightweight and annotated
// tags (optionally signed) directly as objects, so large histories build
// quickly; Pack packs them with git repack.
//
// The programs run with no system or user configuration, and with
// uploadpack.allowReachableSHA1InWant set: a commit asked for by id is
// served when a reference reaches it, and refused ("not our ref")
// otherwise, as on GitHub or GitLab.
//
// The git program must be on PATH. NewServer ties a server to a test.
// Start runs one in a program instead (a demo, a local development tool)
// until Close.
package gittest
