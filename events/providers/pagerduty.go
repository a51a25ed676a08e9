package providers

import (
	"context"
	"strings"
	"time"

	"github.com/gitopskit/kit/events"
)

// PagerDutyURL is the Events API v2 address, the default Address.
const PagerDutyURL = "https://events.pagerduty.com"

// pagerDutySummaryMax is the Events API's bound on a summary.
const pagerDutySummaryMax = 1024

// PagerDuty sends to the Events API v2 with the integration's routing key
// (Channel, or Token): a failure or a reminder triggers an alert, a
// resolution resolves it (same dedup_key: the object's UID, else
// kind/namespace/name), other info events are change events.
type PagerDuty struct {
	base   string
	key    string
	client *client
}

var _ events.Provider = (*PagerDuty)(nil)

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity,omitempty"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdChange struct {
	RoutingKey string    `json:"routing_key"`
	Payload    pdPayload `json:"payload"`
}

// NewPagerDuty reads Address (default PagerDutyURL) and Channel or Token.
func NewPagerDuty(c Config) (*PagerDuty, error) {
	addr := c.Address
	if addr == "" {
		addr = PagerDutyURL
	}
	u, err := parseAddress(TypePagerDuty, addr)
	if err != nil {
		return nil, err
	}
	key := c.Channel
	if key == "" {
		key = c.Token
	}
	if key == "" {
		return nil, configError(TypePagerDuty, "channel or token (the routing key) is required")
	}
	base := u.Scheme + "://" + u.Host
	return &PagerDuty{base: base, key: key, client: newClient(TypePagerDuty, c, key)}, nil
}

// Post sends the event.
func (p *PagerDuty) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	o := e.InvolvedObject
	dedup := string(o.UID)
	if dedup == "" {
		dedup = o.Kind + "/" + o.Namespace + "/" + o.Name
	}
	details := map[string]any{"message": e.Message}
	if len(e.Metadata) > 0 {
		details["metadata"] = e.Metadata
	}
	payload := pdPayload{
		Summary:       truncateRunes(description(e)+": "+strings.ToLower(o.Kind)+"/"+o.Name, pagerDutySummaryMax),
		Source:        e.ReportingController,
		Timestamp:     e.Timestamp.UTC().Format(time.RFC3339),
		CustomDetails: details,
	}
	switch {
	case n.Kind == events.KindResolved:
		_, err := p.client.postJSON(ctx, p.base+"/v2/enqueue", pdEvent{RoutingKey: p.key, EventAction: "resolve", DedupKey: dedup}, nil)
		return err
	case e.Severity == events.SeverityError:
		payload.Severity = "error"
		payload.Component = o.Name
		payload.Group = o.Kind
		payload.Class = e.Reason
		_, err := p.client.postJSON(ctx, p.base+"/v2/enqueue", pdEvent{RoutingKey: p.key, EventAction: "trigger", DedupKey: dedup, Payload: &payload}, nil)
		return err
	default:
		_, err := p.client.postJSON(ctx, p.base+"/v2/change/enqueue", pdChange{RoutingKey: p.key, Payload: payload}, nil)
		return err
	}
}
