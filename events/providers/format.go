package providers

import (
	"slices"
	"strings"

	"github.com/gitopskit/kit/events"
)

// objectTitle is "<kind>/<name>.<namespace>" in Flux's spelling, e.g.
// "kustomization/apps.flux-system".
func objectTitle(e *events.Event) string {
	o := e.InvolvedObject
	t := strings.ToLower(o.Kind) + "/" + o.Name
	if o.Namespace != "" {
		t += "." + o.Namespace
	}
	return t
}

// pair is one metadata entry.
type pair struct{ key, value string }

// metadataPairs lists the metadata sorted by key, the summary first, so
// every payload is the same for the same event.
func metadataPairs(e *events.Event) []pair {
	out := make([]pair, 0, len(e.Metadata))
	for k, v := range e.Metadata {
		out = append(out, pair{k, v})
	}
	slices.SortFunc(out, func(a, b pair) int {
		switch {
		case a.key == b.key:
			return 0
		case a.key == events.MetaSummary:
			return -1
		case b.key == events.MetaSummary:
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

// failing reports whether the notification is bad news: an error that is
// not a resolution.
func failing(n *events.Notification) bool {
	return n.Event.Severity == events.SeverityError && n.Kind != events.KindResolved
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// description is the reason split into lower-case words:
// "ReconciliationFailed" → "reconciliation failed".
func description(e *events.Event) string {
	return strings.ToLower(strings.Join(events.SplitCamelCase(e.Reason), " "))
}

// markdown is a plain Markdown rendering shared by the chat providers that
// take Markdown text: a bold title line, the message, the metadata as a
// list.
func markdown(n *events.Notification) string {
	var b strings.Builder
	b.WriteString("**")
	b.WriteString(objectTitle(&n.Event))
	b.WriteString("**\n")
	b.WriteString(n.Event.Message)
	b.WriteString("\n")
	for _, p := range metadataPairs(&n.Event) {
		b.WriteString("- **")
		b.WriteString(p.key)
		b.WriteString("**: ")
		b.WriteString(p.value)
		b.WriteString("\n")
	}
	return b.String()
}

// commitStatus returns the notification's commit status, deriving it from
// the event when the caller did not go through the hub.
func commitStatus(n *events.Notification) (*events.CommitStatus, error) {
	if n.CommitStatus != nil {
		return n.CommitStatus, nil
	}
	return events.NewCommitStatus(&n.Event, "")
}

// truncateRunes cuts s to at most max characters.
func truncateRunes(s string, max int) string {
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}
