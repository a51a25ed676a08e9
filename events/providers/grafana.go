package providers

import (
	"context"
	"net/http"
	"strings"

	"github.com/gitopskit/kit/events"
)

// Grafana creates an annotation through Grafana's HTTP API (Address, e.g.
// https://grafana.example.com/api/annotations) with a service account
// Token or basic auth (Username, Password): the event's time, its object
// and message as the text, and tags "gitopskit", the reporting controller,
// "kind: …", "name: …", "namespace: …" and one "<key>: <value>" per
// metadata entry.
type Grafana struct {
	url    string
	auth   http.Header
	client *client
}

var _ events.Provider = (*Grafana)(nil)

type grafanaAnnotation struct {
	Time int64    `json:"time"`
	Tags []string `json:"tags"`
	Text string   `json:"text"`
}

// NewGrafana reads Address, Token, Username and Password.
func NewGrafana(c Config) (*Grafana, error) {
	u, err := parseAddress(TypeGrafana, c.Address)
	if err != nil {
		return nil, err
	}
	g := &Grafana{url: u.String(), client: newClient(TypeGrafana, c)}
	switch {
	case c.Token != "":
		g.auth = bearer(c.Token)
	case c.Username != "" && c.Password != "":
		g.auth = basicAuth(c.Username, c.Password)
	}
	return g, nil
}

// Post creates the annotation.
func (g *Grafana) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	o := e.InvolvedObject
	tags := []string{"gitopskit", e.ReportingController, "kind: " + o.Kind, "name: " + o.Name, "namespace: " + o.Namespace}
	for _, p := range metadataPairs(e) {
		// Grafana splits "key:value" tags; keep ours whole.
		tags = append(tags, strings.ReplaceAll(p.key, ":", "|")+": "+strings.ReplaceAll(p.value, ":", "|"))
	}
	a := grafanaAnnotation{Time: e.Timestamp.UnixMilli(), Tags: tags, Text: objectTitle(e) + ": " + e.Message}
	_, err := g.client.postJSON(ctx, g.url, a, g.auth)
	return err
}
