package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrInvalid is wrapped by every error about an event that does not
// conform (a *ValidationError tells which field).
var ErrInvalid = errors.New("invalid event")

// ErrTooLarge is returned by Decode for an input longer than Limits.MaxBytes.
var ErrTooLarge = errors.New("event too large")

// ValidationError names the field of an event that is not valid.
type ValidationError struct {
	// Field is the JSON path of the field, e.g. "involvedObject.name".
	Field string
	// Reason says what is wrong, never quoting more than a few characters
	// of the value.
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrInvalid, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Limits bound what Decode and Validate accept. The zero value means the
// defaults below; a negative value means no limit.
type Limits struct {
	// MaxBytes bounds the JSON document; default 3 MiB, as Flux's event
	// server.
	MaxBytes int64
	// MaxMetadata bounds the number of metadata entries; default 100.
	MaxMetadata int
	// MaxMetadataValue bounds each metadata value in bytes; default 16 KiB.
	MaxMetadataValue int
}

// Default limits.
const (
	DefaultMaxBytes         = 3 << 20
	DefaultMaxMetadata      = 100
	DefaultMaxMetadataValue = 16 << 10
)

// Fixed bounds: Kubernetes names and kinds are far shorter.
const (
	maxNameLength   = 253
	maxKeyLength    = 317 // a qualified name: 253-byte prefix, '/', 63-byte name
	maxReasonLength = 1024
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxMetadata == 0 {
		l.MaxMetadata = DefaultMaxMetadata
	}
	if l.MaxMetadataValue == 0 {
		l.MaxMetadataValue = DefaultMaxMetadataValue
	}
	return l
}

// Decode reads one event from r, at most l.MaxBytes, and validates it. A
// message longer than MaxMessageLength is truncated rather than refused, as
// a Flux controller does not cap what it sends. Unknown fields are ignored;
// trailing data after the JSON object is an error.
func Decode(r io.Reader, l Limits) (*Event, error) {
	l = l.withDefaults()
	var data []byte
	var err error
	if l.MaxBytes > 0 {
		data, err = io.ReadAll(io.LimitReader(r, l.MaxBytes+1))
		if err == nil && int64(len(data)) > l.MaxBytes {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, l.MaxBytes)
		}
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return nil, fmt.Errorf("reading event: %w", err)
	}
	return Unmarshal(data, l)
}

// Unmarshal is Decode for a document already in memory; l.MaxBytes is
// checked against len(data).
func Unmarshal(data []byte, l Limits) (*Event, error) {
	l = l.withDefaults()
	if l.MaxBytes > 0 && int64(len(data)) > l.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, l.MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var e Event
	if err := dec.Decode(&e); err != nil {
		// encoding/json errors may quote the input; say only where it broke.
		return nil, fmt.Errorf("%w: malformed JSON: %s", ErrInvalid, jsonErrorSummary(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	e.Message = TruncateMessage(e.Message)
	// The wire format has whole seconds (metav1.Time); drop what a sender
	// may have added, so the event re-encodes to what it decoded from.
	e.Timestamp = metav1.NewTime(e.Timestamp.Truncate(time.Second))
	if err := e.Validate(l); err != nil {
		return nil, err
	}
	return &e, nil
}

func jsonErrorSummary(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at offset %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q: want %s", truncateField(typ.Field), typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return "cannot decode"
}

func truncateField(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Validate checks e against the event API: the involved object's kind and
// name, a known severity, a timestamp, a reason and a reporting controller
// are required; strings are bounded and names carry no control characters.
func (e *Event) Validate(l Limits) error {
	l = l.withDefaults()
	o := e.InvolvedObject
	checks := []struct {
		field, value string
		required     bool
		max          int
	}{
		{"involvedObject.kind", o.Kind, true, maxNameLength},
		{"involvedObject.name", o.Name, true, maxNameLength},
		{"involvedObject.namespace", o.Namespace, false, maxNameLength},
		{"involvedObject.apiVersion", o.APIVersion, false, maxKeyLength},
		{"involvedObject.uid", string(o.UID), false, maxNameLength},
		{"involvedObject.resourceVersion", o.ResourceVersion, false, maxNameLength},
		{"involvedObject.fieldPath", o.FieldPath, false, maxKeyLength},
		{"reason", e.Reason, true, maxReasonLength},
		{"reportingController", e.ReportingController, true, maxNameLength},
		{"reportingInstance", e.ReportingInstance, false, maxNameLength},
	}
	for _, c := range checks {
		if err := checkName(c.field, c.value, c.required, c.max); err != nil {
			return err
		}
	}
	switch e.Severity {
	case SeverityTrace, SeverityInfo, SeverityError:
	case "":
		return &ValidationError{Field: "severity", Reason: "required"}
	default:
		return &ValidationError{Field: "severity", Reason: "must be trace, info or error"}
	}
	if e.Timestamp.IsZero() {
		return &ValidationError{Field: "timestamp", Reason: "required"}
	}
	if utf8.RuneCountInString(e.Message) > MaxMessageLength {
		return &ValidationError{Field: "message", Reason: fmt.Sprintf("longer than %d characters", MaxMessageLength)}
	}
	if l.MaxMetadata > 0 && len(e.Metadata) > l.MaxMetadata {
		return &ValidationError{Field: "metadata", Reason: fmt.Sprintf("more than %d entries", l.MaxMetadata)}
	}
	for k, v := range e.Metadata {
		if err := checkName("metadata key", k, true, maxKeyLength); err != nil {
			return err
		}
		if l.MaxMetadataValue > 0 && len(v) > l.MaxMetadataValue {
			return &ValidationError{Field: "metadata." + quoteShort(k), Reason: fmt.Sprintf("value longer than %d bytes", l.MaxMetadataValue)}
		}
	}
	return nil
}

func checkName(field, v string, required bool, max int) error {
	if v == "" {
		if required {
			return &ValidationError{Field: field, Reason: "required"}
		}
		return nil
	}
	if len(v) > max {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("longer than %d bytes", max)}
	}
	if !utf8.ValidString(v) {
		return &ValidationError{Field: field, Reason: "not valid UTF-8"}
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return &ValidationError{Field: field, Reason: "control character"}
		}
	}
	return nil
}

// quoteShort quotes at most 32 bytes of s for an error message.
func quoteShort(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return fmt.Sprintf("%q", s)
}
