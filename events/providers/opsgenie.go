package providers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitopskit/kit/events"
)

// OpsgenieURL is the alerts endpoint of Opsgenie's API, the default
// Address (EU accounts use https://api.eu.opsgenie.com/v2/alerts).
const OpsgenieURL = "https://api.opsgenie.com/v2/alerts"

// Opsgenie bounds, from its Alert API.
const (
	opsgenieMessageMax     = 130
	opsgenieDescriptionMax = 15000
)

// Opsgenie creates alerts with an API integration's key (Token, sent as
// "GenieKey <token>"). A failure and its reminders share one alias (a
// digest of the object), so Opsgenie counts them on one alert; the
// resolution closes that alert. Info events are P5 alerts of their own.
type Opsgenie struct {
	url    string
	header http.Header
	client *client
}

var _ events.Provider = (*Opsgenie)(nil)

type opsgenieAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description"`
	Details     map[string]string `json:"details"`
	Source      string            `json:"source"`
	Tags        []string          `json:"tags"`
	Priority    string            `json:"priority,omitempty"`
}

type opsgenieClose struct {
	Source string `json:"source"`
	Note   string `json:"note"`
}

// NewOpsgenie reads Address (default OpsgenieURL) and Token.
func NewOpsgenie(c Config) (*Opsgenie, error) {
	addr := c.Address
	if addr == "" {
		addr = OpsgenieURL
	}
	u, err := parseAddress(TypeOpsgenie, addr)
	if err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, configError(TypeOpsgenie, "token (the API key) is required")
	}
	return &Opsgenie{
		url:    strings.TrimSuffix(u.String(), "/"),
		header: http.Header{"Authorization": {"GenieKey " + c.Token}},
		client: newClient(TypeOpsgenie, c),
	}, nil
}

// opsgenieAlias identifies an object's failure alert.
func opsgenieAlias(e *events.Event, suffix string) string {
	o := e.InvolvedObject
	sum := sha256.Sum256([]byte(o.Kind + "/" + o.Namespace + "/" + o.Name + suffix))
	return hex.EncodeToString(sum[:])
}

// Post creates or closes the alert.
func (o *Opsgenie) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	if n.Kind == events.KindResolved {
		u := o.url + "/" + url.PathEscape(opsgenieAlias(e, "")) + "/close?identifierType=alias"
		_, err := o.client.postJSON(ctx, u, opsgenieClose{Source: e.ReportingController, Note: truncateRunes(e.Message, opsgenieDescriptionMax)}, o.header)
		return err
	}
	details := map[string]string{"severity": e.Severity, "reason": e.Reason}
	for _, p := range metadataPairs(e) {
		details[p.key] = p.value
	}
	ob := e.InvolvedObject
	alert := opsgenieAlert{
		Message:     truncateRunes(ob.Kind+"/"+ob.Name+"."+ob.Namespace+": "+description(e), opsgenieMessageMax),
		Alias:       opsgenieAlias(e, ""),
		Description: truncateRunes(e.Message, opsgenieDescriptionMax),
		Details:     details,
		Source:      e.ReportingController,
		Tags:        []string{"gitopskit", strings.ToLower(ob.Kind), ob.Namespace},
	}
	if !failing(n) {
		alert.Alias = opsgenieAlias(e, "/"+e.Reason)
		alert.Priority = "P5"
	}
	_, err := o.client.postJSON(ctx, o.url, alert, o.header)
	return err
}
