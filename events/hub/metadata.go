package hub

import (
	"strings"

	"github.com/gitopskit/kit/events"
)

// notificationEvent is the event a provider sees: a copy whose metadata is
// combined in Flux's order (RFC 0008), later sources winning:
//
//  1. keys prefixed with the event group (ours or Flux's), prefix stripped
//     — they come from the object's annotations;
//  2. the alert's Metadata;
//  3. the alert's Summary, as "summary";
//  4. keys prefixed with the involved object's API group, prefix stripped
//     — what the controller recorded — except the digest, the checksum and
//     the token, which are internal.
//
// Keys with any other prefix, or none, are dropped.
func notificationEvent(e *events.Event, a *Alert) events.Event {
	out := *e
	out.Metadata = nil
	md := make(map[string]string)
	for _, g := range []string{events.FluxGroup, events.Group} {
		p := g + "/"
		for k, v := range e.Metadata {
			if strings.HasPrefix(k, p) && len(k) > len(p) {
				md[k[len(p):]] = v
			}
		}
	}
	for k, v := range a.Metadata {
		md[k] = v
	}
	if a.Summary != "" {
		md[events.MetaSummary] = a.Summary
	}
	if g := e.ObjectGroup(); g != "" {
		p := g + "/"
		for k, v := range e.Metadata {
			if !strings.HasPrefix(k, p) || len(k) == len(p) {
				continue
			}
			switch key := k[len(p):]; key {
			case events.MetaDigest, events.MetaChecksum, events.MetaToken:
			default:
				md[key] = v
			}
		}
	}
	if len(md) > 0 {
		out.Metadata = md
	}
	return out
}

// commitStatusOnly reports whether the event is meant only for
// commit-status providers (metadata commit_status: update).
func commitStatusOnly(e *events.Event) bool {
	v, ok := e.MetadataValue(events.MetaCommitStatus)
	return ok && v == events.MetaCommitStatusUpdate
}
