// Package events is the event API shared by the recorder, the hub, the
// providers and the receivers of this module.
//
// An Event is exactly the JSON that Flux's notification stack posts
// (involvedObject, severity trace|info|error, timestamp, message, reason,
// metadata, reportingController, reportingInstance): a Flux
// notification-controller can receive the events a gitopskit recorder
// sends, and the gitopskit hub can receive a Flux controller's. Decode reads
// one from an untrusted source with a size limit, truncates an over-long
// message to MaxMessageLength characters as Flux's API bounds it, and
// Validate refuses what is malformed with a *ValidationError naming the
// field (errors.Is(err, ErrInvalid)).
//
// Metadata keys are written by controllers prefixed with the involved
// object's API group, "kustomize.gitopskit.dev/revision"; keys prefixed
// with Group (or Flux's FluxGroup) come from the object's annotations.
// MetadataValue and Revision find a key in either form.
//
// A Notification is what the hub hands a Provider: an event, its kind in
// the no-spam rules (failure, reminder, resolved, info, commit-status) and,
// for commit-status providers, the CommitStatus to set. A provider marks an
// error a retry cannot fix with Permanent.
package events
