package providers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gitopskit/kit/events"
)

// Sentry sends an event to the project of a DSN (Address,
// "https://<public key>@<host>/<project id>") through Sentry's envelope
// endpoint, authenticated with the X-Sentry-Auth header. Failures and
// reminders are level error, the rest info; Channel, when set, is the
// environment. The event ID is a digest of the notification, so a retried
// delivery is one event; the fingerprint is the object and reason, so
// Sentry groups an object's repeated failure into one issue.
type Sentry struct {
	url         string
	auth        http.Header
	environment string
	client      *client
}

var _ events.Provider = (*Sentry)(nil)

type sentryEvent struct {
	EventID     string            `json:"event_id"`
	Timestamp   string            `json:"timestamp"`
	Platform    string            `json:"platform"`
	Level       string            `json:"level"`
	Logger      string            `json:"logger"`
	ServerName  string            `json:"server_name,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Transaction string            `json:"transaction"`
	Message     sentryMessage     `json:"message"`
	Tags        map[string]string `json:"tags"`
	Extra       map[string]string `json:"extra,omitempty"`
	Fingerprint []string          `json:"fingerprint"`
}

type sentryMessage struct {
	Formatted string `json:"formatted"`
}

// NewSentry reads Address (the DSN) and Channel.
func NewSentry(c Config) (*Sentry, error) {
	u, err := parseAddress(TypeSentry, c.Address)
	if err != nil {
		return nil, err
	}
	key := u.User.Username()
	if key == "" {
		return nil, configError(TypeSentry, "address must be a DSN with a public key: https://<key>@<host>/<project>")
	}
	path := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndexByte(path, '/')
	project := path[i+1:]
	if _, err := strconv.ParseUint(project, 10, 64); err != nil {
		return nil, configError(TypeSentry, "address must end with the numeric project ID")
	}
	endpoint := url.URL{Scheme: u.Scheme, Host: u.Host, Path: path[:i] + "/api/" + project + "/envelope/"}
	return &Sentry{
		url:         endpoint.String(),
		auth:        http.Header{"X-Sentry-Auth": {"Sentry sentry_version=7, sentry_client=" + userAgent + ", sentry_key=" + key}},
		environment: c.Channel,
		client:      newClient(TypeSentry, c, key),
	}, nil
}

// Post sends the event.
func (s *Sentry) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	o := e.InvolvedObject
	level := "info"
	if failing(n) {
		level = "error"
	}
	id := sha256.New()
	_ = json.NewEncoder(id).Encode(&n.Event)
	id.Write([]byte(string(n.Kind) + "/" + strconv.Itoa(n.Count)))
	ev := sentryEvent{
		EventID:     hex.EncodeToString(id.Sum(nil))[:32],
		Timestamp:   e.Timestamp.UTC().Format(time.RFC3339),
		Platform:    "other",
		Level:       level,
		Logger:      "gitopskit",
		ServerName:  e.ReportingController,
		Environment: s.environment,
		Transaction: o.Kind + ": " + o.Namespace + "/" + o.Name,
		Message:     sentryMessage{Formatted: e.Message},
		Tags: map[string]string{
			"kind":                 o.Kind,
			"name":                 o.Name,
			"namespace":            o.Namespace,
			"reason":               e.Reason,
			"reporting_controller": e.ReportingController,
		},
		Extra:       e.Metadata,
		Fingerprint: []string{o.Kind, o.Namespace, o.Name, e.Reason},
	}
	item, err := json.Marshal(ev)
	if err != nil {
		return events.Permanent(err)
	}
	var body bytes.Buffer
	header, _ := json.Marshal(map[string]string{"event_id": ev.EventID})
	body.Write(header)
	body.WriteByte('\n')
	itemHeader, _ := json.Marshal(map[string]any{"type": "event", "length": len(item)})
	body.Write(itemHeader)
	body.WriteByte('\n')
	body.Write(item)
	body.WriteByte('\n')
	_, err = s.client.do(ctx, call{method: http.MethodPost, url: s.url, body: body.Bytes(), contentType: "application/x-sentry-envelope", header: s.auth})
	return err
}
