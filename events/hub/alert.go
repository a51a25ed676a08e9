package hub

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gitopskit/kit/events"
)

// Alert routes matching events to one provider. The reference operator
// builds one from each Alert object and the Provider it references; the hub
// never modifies it.
type Alert struct {
	// ID identifies the alert in the hub's no-spam state, e.g.
	// "<namespace>/<name>". Give an alert a new ID (append its generation)
	// to start its state afresh when its spec changes.
	ID string
	// Namespace is the alert's namespace: a source without a namespace
	// matches events from this one.
	Namespace string
	// Sources are the objects whose events the alert wants; an event
	// matches if it matches any of them.
	Sources []Source
	// Severity is the lowest severity that notifies: info (the default,
	// also when empty) or error. A resolution is sent whatever the
	// severity, for an object the alert reported failing.
	Severity string
	// Inclusion, when not empty, lets through only messages matching one
	// of these; Exclusion drops messages matching any. Go regular
	// expressions run in linear time, so a hostile message cannot stall
	// the hub. A resolution bypasses both, like Severity.
	Inclusion, Exclusion []*regexp.Regexp
	// Metadata is merged into every notification's metadata; the
	// event's own keys win over it (Flux's RFC 0008 order).
	Metadata map[string]string
	// Summary is shown under the "summary" metadata key.
	Summary string
	// Reminder is how often a failure that goes on is summarised
	// ("still failing, 12 times in 1h"); zero never reminds.
	Reminder time.Duration

	// Provider delivers the notifications.
	Provider events.Provider
	// ProviderName labels the metrics, e.g. "<namespace>/<name>" of the
	// Provider object; ID when empty.
	ProviderName string
	// ProviderID, the Provider object's UID, names the commit statuses a
	// commit-status provider sets ("<kind>/<name>/<first part of ID>").
	ProviderID string
	// Timeout bounds each delivery attempt; DefaultTimeout when zero.
	Timeout time.Duration
}

// Source selects the objects whose events an alert wants.
type Source struct {
	// Kind is the involved object's kind, "*" for any.
	Kind string
	// Name is the object's name; "*" matches any run of characters
	// ("*" alone matches every name, "app-*" a prefix).
	Name string
	// Namespace is the object's namespace: empty means the alert's own,
	// "*" any.
	Namespace string
	// MatchLabels, when set, also requires the object's labels to hold
	// these (read through WithLabels; without it such a source never
	// matches).
	MatchLabels map[string]string
}

// Alerts supplies the alerts an event may match. The reference operator
// answers from its cache of Alert objects; the hub calls it once per event.
type Alerts interface {
	Alerts(ctx context.Context, e *events.Event) ([]*Alert, error)
}

// AlertsFunc adapts a function to Alerts.
type AlertsFunc func(ctx context.Context, e *events.Event) ([]*Alert, error)

// Alerts calls f.
func (f AlertsFunc) Alerts(ctx context.Context, e *events.Event) ([]*Alert, error) { return f(ctx, e) }

// StaticAlerts is a fixed list of alerts, every one considered for every
// event.
type StaticAlerts []*Alert

// Alerts returns the list.
func (s StaticAlerts) Alerts(context.Context, *events.Event) ([]*Alert, error) { return s, nil }

// LabelsFunc returns the labels of an event's involved object, for sources
// with MatchLabels. The reference operator reads them from its metadata
// cache.
type LabelsFunc func(ctx context.Context, ref corev1.ObjectReference) (map[string]string, error)

// ErrInvalidAlert is wrapped by Alert.Validate's errors.
var ErrInvalidAlert = errors.New("invalid alert")

// Validate reports what would make the alert match nothing or fail: a
// missing ID, provider or source kind, or an unknown severity.
func (a *Alert) Validate() error {
	switch {
	case a.ID == "":
		return fmt.Errorf("%w: no ID", ErrInvalidAlert)
	case a.Provider == nil:
		return fmt.Errorf("%w %s: no provider", ErrInvalidAlert, a.ID)
	case len(a.Sources) == 0:
		return fmt.Errorf("%w %s: no event sources", ErrInvalidAlert, a.ID)
	}
	switch a.Severity {
	case "", events.SeverityInfo, events.SeverityError:
	default:
		return fmt.Errorf("%w %s: severity must be info or error", ErrInvalidAlert, a.ID)
	}
	for i, s := range a.Sources {
		if s.Kind == "" {
			return fmt.Errorf("%w %s: source %d has no kind", ErrInvalidAlert, a.ID, i)
		}
	}
	return nil
}

// matchSource reports whether e comes from one of the alert's sources.
// labels is called at most once per event, only when a source needs it.
func (a *Alert) matchSource(e *events.Event, labels func() (map[string]string, bool)) bool {
	o := e.InvolvedObject
	for _, s := range a.Sources {
		ns := s.Namespace
		if ns == "" {
			ns = a.Namespace
		}
		if ns != "*" && ns != o.Namespace {
			continue
		}
		if s.Kind != "*" && s.Kind != o.Kind {
			continue
		}
		if !globMatch(s.Name, o.Name) {
			continue
		}
		if len(s.MatchLabels) > 0 {
			l, ok := labels()
			if !ok {
				continue
			}
			matched := true
			for k, v := range s.MatchLabels {
				if got, has := l[k]; !has || got != v {
					matched = false
					break
				}
			}
			if !matched {
				continue
			}
		}
		return true
	}
	return false
}

// passFilters applies the severity threshold and the message lists.
func (a *Alert) passFilters(e *events.Event) bool {
	if a.Severity == events.SeverityError && e.Severity != events.SeverityError {
		return false
	}
	if len(a.Inclusion) > 0 {
		included := false
		for _, re := range a.Inclusion {
			if re.MatchString(e.Message) {
				included = true
				break
			}
		}
		if !included {
			return false
		}
	}
	for _, re := range a.Exclusion {
		if re.MatchString(e.Message) {
			return false
		}
	}
	return true
}

func (a *Alert) providerLabel() string {
	if a.ProviderName != "" {
		return a.ProviderName
	}
	return a.ID
}

// globMatch matches name against a pattern where '*' is any run of
// characters (an empty pattern matches nothing). Linear: a greedy match
// with one backtrack point per star.
func globMatch(pattern, name string) bool {
	if pattern == "" {
		return false
	}
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
