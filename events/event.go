package events

import (
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Severities of an event. A controller's Normal Kubernetes event is info, a
// Warning is error; trace events stay in the cluster.
const (
	SeverityTrace = "trace"
	SeverityInfo  = "info"
	SeverityError = "error"
)

// Group is the annotation and metadata prefix of event metadata that is not
// about the involved object's own API group: an object annotated
// "event.gitopskit.dev/<key>" has <key> copied into every event about it.
// FluxGroup is Flux's spelling of the same prefix; both are read.
const (
	Group     = "event.gitopskit.dev"
	FluxGroup = "event.toolkit.fluxcd.io"
)

// Metadata keys. Controllers write them prefixed with the involved object's
// API group ("kustomize.gitopskit.dev/revision"), as Flux controllers do;
// the hub strips the prefix before handing an event to a provider.
const (
	MetaRevision       = "revision"
	MetaOriginRevision = "originRevision"
	MetaDigest         = "digest"
	MetaChecksum       = "checksum"
	// MetaToken identifies the content of an event for deduplication (for
	// example a hash of the applied change set). It is never shown to a
	// provider.
	MetaToken  = "token"
	MetaCommit = "commit"
	// MetaCommitStatus with the value MetaCommitStatusUpdate marks an event
	// meant only for commit-status providers.
	MetaCommitStatus       = "commit_status"
	MetaCommitStatusUpdate = "update"
	// MetaSummary is the key under which an alert's summary is shown.
	MetaSummary = "summary"
)

// MaxMessageLength is the longest message an event carries, in characters:
// the bound Flux's event API declares (39,000). Longer messages are cut by
// TruncateMessage.
const MaxMessageLength = 39000

// Event is a report of something a controller did, in the JSON that Flux's
// notification stack posts and accepts: a Flux notification-controller can
// receive these events and the hub can receive a Flux controller's.
type Event struct {
	// InvolvedObject is the object the event is about.
	InvolvedObject corev1.ObjectReference `json:"involvedObject"`
	// Severity is trace, info or error.
	Severity string `json:"severity"`
	// Timestamp is when the event was recorded.
	Timestamp metav1.Time `json:"timestamp"`
	// Message is human-readable, at most MaxMessageLength characters.
	Message string `json:"message"`
	// Reason is a machine-readable UpperCamelCase cause, e.g. ReconciliationSucceeded.
	Reason string `json:"reason"`
	// Metadata carries revisions, tokens and the like, keyed
	// "<group>/<key>" as sent by a controller (see the Meta* keys).
	Metadata map[string]string `json:"metadata,omitempty"`
	// ReportingController names the controller that emitted the event.
	ReportingController string `json:"reportingController"`
	// ReportingInstance names the controller's instance (its pod).
	ReportingInstance string `json:"reportingInstance,omitempty"`
}

// DeepCopy returns a copy sharing nothing with e.
func (e *Event) DeepCopy() *Event {
	if e == nil {
		return nil
	}
	out := *e
	e.Timestamp.DeepCopyInto(&out.Timestamp)
	if e.Metadata != nil {
		out.Metadata = make(map[string]string, len(e.Metadata))
		for k, v := range e.Metadata {
			out.Metadata[k] = v
		}
	}
	return &out
}

// ObjectGroup is the API group of the involved object ("" for the core group).
func (e *Event) ObjectGroup() string {
	gv, err := schema.ParseGroupVersion(e.InvolvedObject.APIVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}

// ObjectKey is "<Kind>/<namespace>/<name>" of the involved object.
func (e *Event) ObjectKey() string {
	o := e.InvolvedObject
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// MetadataValue looks key up as it is, then prefixed with the involved
// object's group, then prefixed with Group and FluxGroup. It finds a key
// both in an event as a controller sends it and as the hub hands it to a
// provider (prefixes stripped).
func (e *Event) MetadataValue(key string) (string, bool) {
	if v, ok := e.Metadata[key]; ok {
		return v, true
	}
	if g := e.ObjectGroup(); g != "" {
		if v, ok := e.Metadata[g+"/"+key]; ok {
			return v, true
		}
	}
	for _, g := range []string{Group, FluxGroup} {
		if v, ok := e.Metadata[g+"/"+key]; ok {
			return v, true
		}
	}
	return "", false
}

// Revision returns the revision the event is about: the commit, else the
// origin revision, else the revision metadata, as Flux reads them.
func (e *Event) Revision() (string, bool) {
	for _, k := range []string{MetaCommit, MetaOriginRevision, MetaRevision} {
		if v, ok := e.MetadataValue(k); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// TruncateMessage cuts s to at most MaxMessageLength characters, on a rune
// boundary, ending it with "…" when it was cut. Invalid UTF-8 is replaced
// first, so the result is always valid.
func TruncateMessage(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= MaxMessageLength { // bytes ≥ runes
		return s
	}
	n := 0
	for i := range s {
		if n == MaxMessageLength-1 {
			if utf8.RuneCountInString(s[i:]) <= 1 {
				return s
			}
			return s[:i] + "…"
		}
		n++
	}
	return s
}
