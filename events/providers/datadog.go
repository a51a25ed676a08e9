package providers

import (
	"context"
	"net/http"
	"strings"

	"github.com/gitopskit/kit/events"
)

// DatadogURL is Datadog's US1 API, the default Address (other sites:
// https://api.datadoghq.eu, https://api.us5.datadoghq.com, …).
const DatadogURL = "https://api.datadoghq.com"

// Datadog creates events with POST <Address>/api/v1/events and an API key
// (Token, sent as DD-API-KEY). The aggregation key is the object, so
// Datadog groups an object's events; the tags are "kube_kind:…",
// "kube_name:…", "kube_namespace:…", "reason:…",
// "reporting_controller:…" and "<key>:<value>" per metadata entry, in
// lower case as Datadog stores them.
type Datadog struct {
	url    string
	header http.Header
	client *client
}

var _ events.Provider = (*Datadog)(nil)

// datadogAggregationKeyMax is the API's bound on aggregation_key.
const datadogAggregationKeyMax = 100

type datadogEvent struct {
	Title          string   `json:"title"`
	Text           string   `json:"text"`
	Tags           []string `json:"tags"`
	AlertType      string   `json:"alert_type"`
	DateHappened   int64    `json:"date_happened"`
	SourceTypeName string   `json:"source_type_name"`
	AggregationKey string   `json:"aggregation_key"`
}

// NewDatadog reads Address (default DatadogURL) and Token.
func NewDatadog(c Config) (*Datadog, error) {
	addr := c.Address
	if addr == "" {
		addr = DatadogURL
	}
	u, err := parseAddress(TypeDatadog, addr)
	if err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, configError(TypeDatadog, "token (the API key) is required")
	}
	return &Datadog{
		url:    u.Scheme + "://" + u.Host + "/api/v1/events",
		header: http.Header{"DD-API-KEY": {c.Token}},
		client: newClient(TypeDatadog, c),
	}, nil
}

// Post creates the event.
func (d *Datadog) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	o := e.InvolvedObject
	tags := []string{
		"kube_kind:" + o.Kind,
		"kube_name:" + o.Name,
		"kube_namespace:" + o.Namespace,
		"reason:" + e.Reason,
		"reporting_controller:" + e.ReportingController,
	}
	for _, p := range metadataPairs(e) {
		tags = append(tags, p.key+":"+p.value)
	}
	for i := range tags {
		tags[i] = strings.ToLower(tags[i])
	}
	alert := "info"
	switch {
	case failing(n):
		alert = "error"
	case n.Kind == events.KindResolved:
		alert = "success"
	}
	ev := datadogEvent{
		Title:          o.Kind + " " + o.Namespace + "/" + o.Name + ": " + description(e),
		Text:           e.Message,
		Tags:           tags,
		AlertType:      alert,
		DateHappened:   e.Timestamp.Unix(),
		SourceTypeName: "gitopskit",
		AggregationKey: truncateRunes(strings.ToLower(o.Kind+"/"+o.Namespace+"/"+o.Name), datadogAggregationKeyMax),
	}
	_, err := d.client.postJSON(ctx, d.url, ev, d.header)
	return err
}
