package providers

import (
	"context"

	"github.com/gitopskit/kit/events"
)

// MSTeams posts an Adaptive Card (version 1.4, the highest Teams renders)
// to a Microsoft Teams Workflows webhook (Address): the object as the
// title, the message (in the attention colour for a failure) and the
// metadata as facts.
type MSTeams struct {
	url    string
	client *client
}

var _ events.Provider = (*MSTeams)(nil)

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	MSTeams map[string]any `json:"msteams"`
	Body    []teamsElement `json:"body"`
}

type teamsElement struct {
	Type   string      `json:"type"`
	Text   string      `json:"text,omitempty"`
	Size   string      `json:"size,omitempty"`
	Weight string      `json:"weight,omitempty"`
	Color  string      `json:"color,omitempty"`
	Wrap   bool        `json:"wrap,omitempty"`
	Facts  []teamsFact `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// NewMSTeams reads Address.
func NewMSTeams(c Config) (*MSTeams, error) {
	u, err := parseAddress(TypeMSTeams, c.Address)
	if err != nil {
		return nil, err
	}
	return &MSTeams{url: u.String(), client: newClient(TypeMSTeams, c)}, nil
}

// Post sends the card.
func (t *MSTeams) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	msg := teamsElement{Type: "TextBlock", Text: e.Message, Wrap: true}
	if failing(n) {
		msg.Color = "Attention"
	}
	body := []teamsElement{
		{Type: "TextBlock", Text: objectTitle(e), Size: "Large", Weight: "Bolder", Wrap: true},
		msg,
	}
	if pairs := metadataPairs(e); len(pairs) > 0 {
		facts := make([]teamsFact, 0, len(pairs))
		for _, p := range pairs {
			facts = append(facts, teamsFact{Title: p.key, Value: p.value})
		}
		body = append(body, teamsElement{Type: "FactSet", Facts: facts})
	}
	payload := teamsMessage{
		Type: "message",
		Attachments: []teamsAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: teamsCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				MSTeams: map[string]any{"width": "Full"},
				Body:    body,
			},
		}},
	}
	_, err := t.client.postJSON(ctx, t.url, payload, nil)
	return err
}
