package providers

import (
	"context"
	"net/http"
	"time"

	"github.com/gitopskit/kit/events"
)

// Alertmanager posts alerts to Alertmanager's API v2 (Address, e.g.
// http://alertmanager:9093/api/v2/alerts), with a bearer Token or basic
// auth (Username, Password).
//
// An alert's labels identify it: alertname (kind and reason of the
// failure), severity, reason, kind, name, namespace and
// reportingcontroller. The message and the metadata are annotations —
// not labels, unlike Flux, so that a new revision does not make a new
// alert. A resolution re-sends the failure's labels with endsAt, which
// resolves it; reminders re-send it, which keeps it firing past
// Alertmanager's resolve_timeout.
type Alertmanager struct {
	url    string
	auth   http.Header
	client *client
}

var _ events.Provider = (*Alertmanager)(nil)

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`
	EndsAt      string            `json:"endsAt,omitempty"`
}

// NewAlertmanager reads Address, Token, Username and Password.
func NewAlertmanager(c Config) (*Alertmanager, error) {
	u, err := parseAddress(TypeAlertmanager, c.Address)
	if err != nil {
		return nil, err
	}
	a := &Alertmanager{url: u.String(), client: newClient(TypeAlertmanager, c)}
	switch {
	case c.Token != "":
		a.auth = bearer(c.Token)
	case c.Username != "" && c.Password != "":
		a.auth = basicAuth(c.Username, c.Password)
	}
	return a, nil
}

// Post sends the alert.
func (a *Alertmanager) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	ident := e
	if n.Kind == events.KindResolved && n.Resolves != nil {
		ident = n.Resolves
	}
	o := ident.InvolvedObject
	labels := map[string]string{
		"alertname":           o.Kind + ident.Reason,
		"severity":            ident.Severity,
		"reason":              ident.Reason,
		"kind":                o.Kind,
		"name":                o.Name,
		"namespace":           o.Namespace,
		"reportingcontroller": ident.ReportingController,
	}
	annotations := map[string]string{"message": e.Message}
	for _, p := range metadataPairs(e) {
		annotations[p.key] = p.value
	}
	start := e.Timestamp.Time
	if !n.Since.IsZero() {
		start = n.Since
	}
	alert := amAlert{Labels: labels, Annotations: annotations, StartsAt: start.UTC().Format(time.RFC3339)}
	if n.Kind == events.KindResolved {
		alert.EndsAt = e.Timestamp.UTC().Format(time.RFC3339)
	}
	_, err := a.client.postJSON(ctx, a.url, []amAlert{alert}, a.auth)
	return err
}
