// Package hub is an event hub: an HTTP endpoint that accepts events in
// Flux's JSON (from a gitopskit recorder or a Flux controller), matches
// them against alerts the caller supplies, and dispatches notifications to
// providers — without spam.
//
// Matching: an alert's sources select objects by kind, name (with '*'),
// namespace (the alert's own by default, '*' for any) and labels; its
// severity threshold and inclusion/exclusion regular expressions filter
// messages.
//
// No spam. For each alert and object the hub remembers a state:
//
//   - a failure (an error event) notifies when the object was not failing,
//     or fails differently now (another reason, message — digits aside —,
//     revision or token);
//   - the same failure again is suppressed, except that every Reminder
//     interval one reminder goes out: "still failing, 12 times in 1h: …";
//   - the first info event after a failure (not a Progressing one) sends
//     one resolution, "resolved after 13 failures in 1h5m: …", whatever
//     the alert's filters;
//   - other info events notify when they say something new, not when they
//     repeat the last one sent;
//   - commit-status providers get each revision and state once.
//
// The state lives in memory, bounded (WithStateSize) and forgotten least
// recently used first; a restart forgets it, which costs at most one
// repeated notification per failing object.
//
// Delivery: a bounded queue per worker (WithWorkers, WithQueueSize), an
// object's notifications always on the same worker and so in order; each
// attempt bounded by the alert's Timeout, errors retried with exponential
// backoff (WithRetries) unless events.Permanent. Nothing blocks the HTTP
// handler: a full queue drops the notification and counts it.
//
// Metrics (Register): received by result, and matched, delivered, failed
// and suppressed per provider.
package hub
