// Package server serves a storage directory of artifacts over HTTP, the way a
// source controller exposes artifacts to its consumers.
//
// GET and HEAD on "/<kind>/<namespace>/<name>/<file>" return the file with
// an ETag that is its quoted digest ("sha256:…"), so a consumer can send
// If-None-Match and get 304 Not Modified. Range requests are honoured.
// Directories, dot files (locks, temporary files) and anything that is not an
// artifact path answer 404; there is no directory listing. Other methods get
// 405. A readiness endpoint (default "/readyz") answers 200 while the storage
// directory is reachable.
//
// [Server.Serve] runs an http.Server with read, write and idle timeouts and
// shuts it down gracefully when its context ends.
package server
