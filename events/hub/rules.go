package hub

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gitopskit/kit/events"
)

// Suppression reasons, the values of the suppressed series' reason label.
const (
	// SuppressedRepeat: the same failure again before the reminder is
	// due, or the same info event as the last one sent.
	SuppressedRepeat = "repeat"
	// SuppressedUnchanged: a commit status already posted for this
	// revision with this state.
	SuppressedUnchanged = "commit_status_unchanged"
	// SuppressedNoRevision: a commit-status provider got an event that
	// names no commit.
	SuppressedNoRevision = "no_revision"
	// SuppressedCommitStatusOnly: an event meant only for commit-status
	// providers reached another provider.
	SuppressedCommitStatusOnly = "commit_status_only"
)

// objectState is what the rules remember of one object under one alert.
type objectState struct {
	failing     bool
	fingerprint string        // of the current failure
	since       time.Time     // when the failing state began
	count       int           // failure events seen in the failing state
	lastSent    time.Time     // last failure or reminder notification
	lastFailure *events.Event // as last notified, for the resolution
	lastInfo    string        // fingerprint of the last info notification
}

// rules decide which events become notifications: the no-spam state
// machine. A pure core: the clock is passed in, nothing is sent here.
type rules struct {
	mu      sync.Mutex
	objects *lru[*objectState]
	commits *lru[events.CommitState]
}

func newRules(size int) *rules {
	return &rules{objects: newLRU[*objectState](size), commits: newLRU[events.CommitState](size)}
}

// decision is the outcome for one alert and one event.
type decision struct {
	matched bool                 // the event is the alert's business
	n       *events.Notification // what to send; nil when suppressed
	reason  string               // why it was suppressed
}

// decide applies the notification rules. pass says whether the event got
// through the alert's severity and message filters; a resolution does not
// need to.
func (r *rules) decide(a *Alert, e *events.Event, now time.Time, pass bool) decision {
	key := a.ID + "\x00" + e.ObjectKey()
	fp := fingerprint(e)
	st, _ := r.objects.get(key)
	if e.Severity == events.SeverityError {
		if !pass {
			return decision{}
		}
		ne := notificationEvent(e, a)
		if st == nil || !st.failing {
			if st == nil {
				st = &objectState{}
			}
			st.failing, st.fingerprint, st.since, st.count, st.lastSent = true, fp, now, 1, now
			st.lastFailure = &ne
			st.lastInfo = ""
			r.objects.put(key, st)
			return notify(a, ne, events.KindFailure, st)
		}
		st.count++
		st.lastFailure = &ne
		if fp != st.fingerprint {
			st.fingerprint, st.lastSent = fp, now
			return notify(a, ne, events.KindFailure, st)
		}
		if a.Reminder > 0 && now.Sub(st.lastSent) >= a.Reminder {
			st.lastSent = now
			ne.Message = events.TruncateMessage(fmt.Sprintf("still failing, %d times in %s: %s", st.count, humanDuration(now.Sub(st.since)), ne.Message))
			return notify(a, ne, events.KindReminder, st)
		}
		return decision{matched: true, reason: SuppressedRepeat}
	}
	recovery := e.Severity == events.SeverityInfo && e.Reason != progressingReason
	if st != nil && st.failing && recovery {
		ne := notificationEvent(e, a)
		ne.Message = events.TruncateMessage(fmt.Sprintf("resolved after %d %s in %s: %s", st.count, plural(st.count, "failure", "failures"), humanDuration(now.Sub(st.since)), ne.Message))
		d := notify(a, ne, events.KindResolved, st)
		d.n.Resolves = st.lastFailure
		st.failing, st.fingerprint, st.count, st.lastFailure = false, "", 0, nil
		st.lastInfo = fp
		return d
	}
	if !pass {
		return decision{}
	}
	if st != nil && st.lastInfo == fp {
		return decision{matched: true, reason: SuppressedRepeat}
	}
	if st == nil {
		st = &objectState{}
		r.objects.put(key, st)
	}
	st.lastInfo = fp
	return decision{matched: true, n: &events.Notification{Event: notificationEvent(e, a), Kind: events.KindInfo, Alert: a.ID}}
}

// decideCommitStatus applies the commit-status rule: each revision and
// state once per alert, object and status context.
func (r *rules) decideCommitStatus(a *Alert, e *events.Event, pass bool) decision {
	if !pass {
		return decision{}
	}
	cs, err := events.NewCommitStatus(e, a.ProviderID)
	if err != nil {
		return decision{matched: true, reason: SuppressedNoRevision}
	}
	key := a.ID + "\x00" + e.ObjectKey() + "\x00" + cs.Commit + "\x00" + cs.Context
	if prev, ok := r.commits.get(key); ok && prev == cs.State {
		return decision{matched: true, reason: SuppressedUnchanged}
	}
	r.commits.put(key, cs.State)
	return decision{matched: true, n: &events.Notification{Event: notificationEvent(e, a), Kind: events.KindCommitStatus, Alert: a.ID, CommitStatus: cs}}
}

func notify(a *Alert, e events.Event, k events.Kind, st *objectState) decision {
	return decision{matched: true, n: &events.Notification{Event: e, Kind: k, Alert: a.ID, Count: st.count, Since: st.since}}
}

// progressingReason marks work under way; such an info event does not
// resolve a failure.
const progressingReason = "Progressing"

// fingerprint identifies "the same" event: reason, message with its digit
// runs folded (durations, counts and timestamps change between repeats of
// one failure), revision and token.
func fingerprint(e *events.Event) string {
	var b strings.Builder
	b.Grow(len(e.Reason) + len(e.Message) + 64)
	b.WriteString(e.Reason)
	b.WriteByte(0)
	digits := false
	for _, r := range e.Message {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	b.WriteByte(0)
	rev, _ := e.Revision()
	b.WriteString(rev)
	b.WriteByte(0)
	tok, _ := e.MetadataValue(events.MetaToken)
	b.WriteString(tok)
	return b.String()
}

// humanDuration is "45s", "12m", "1h", "1h5m", "3d2h".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	}
	days := int(d.Hours()) / 24
	if h := int(d.Hours()) % 24; h != 0 {
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return fmt.Sprintf("%dd", days)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
