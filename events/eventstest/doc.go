// Package eventstest holds test harnesses for code that emits, routes or
// delivers events, named as the standard library names its own (httptest):
//
//   - Sink: an HTTP endpoint that accepts events as the hub does (decoded
//     and validated, 400 when malformed) and records them; it can fail the
//     next N requests or answer slowly, to test a sender against a dead or
//     slow hub.
//   - ProviderSink: an HTTP server standing in for a notification service;
//     it records each request a provider sends (method, path, headers,
//     body) and answers with scripted replies.
//   - Provider: an in-memory events.Provider that records the
//     notifications a hub delivers, and fails or is slow on demand;
//     CommitStatusProvider is the same as a commit-status provider.
//
// Every server listens on loopback and is closed when the test ends.
package eventstest
