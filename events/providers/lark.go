package providers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gitopskit/kit/events"
)

// Lark posts an interactive card to a Lark (Feishu) custom bot webhook
// (Address): a red or turquoise header with the object, the message in
// bold and the metadata below. Lark answers 200 and says in the body
// whether it worked; a non-zero code is an error.
type Lark struct {
	url    string
	client *client
}

var _ events.Provider = (*Lark)(nil)

type larkMessage struct {
	MsgType string   `json:"msg_type"`
	Card    larkCard `json:"card"`
}

type larkCard struct {
	Config   map[string]bool `json:"config"`
	Header   larkHeader      `json:"header"`
	Elements []larkElement   `json:"elements"`
}

type larkHeader struct {
	Title    larkText `json:"title"`
	Template string   `json:"template"`
}

type larkElement struct {
	Tag  string   `json:"tag"`
	Text larkText `json:"text"`
}

type larkText struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

// NewLark reads Address.
func NewLark(c Config) (*Lark, error) {
	u, err := parseAddress(TypeLark, c.Address)
	if err != nil {
		return nil, err
	}
	return &Lark{url: u.String(), client: newClient(TypeLark, c)}, nil
}

// Post sends the card.
func (l *Lark) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	icon, color := "💫", "turquoise"
	if failing(n) {
		icon, color = "🚨", "red"
	}
	var b strings.Builder
	b.WriteString("**" + e.Message + "**\n\n")
	for _, p := range metadataPairs(e) {
		b.WriteString(p.key + ": " + p.value + "\n")
	}
	msg := larkMessage{
		MsgType: "interactive",
		Card: larkCard{
			Config:   map[string]bool{"wide_screen_mode": true},
			Header:   larkHeader{Title: larkText{Tag: "plain_text", Content: icon + " " + objectTitle(e)}, Template: color},
			Elements: []larkElement{{Tag: "div", Text: larkText{Tag: "lark_md", Content: b.String()}}},
		},
	}
	answer, err := l.client.postJSON(ctx, l.url, msg, nil)
	if err != nil {
		return err
	}
	var r struct {
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
	}
	if json.Unmarshal(answer, &r) == nil && r.Code != nil && *r.Code != 0 {
		return l.client.answerError("lark refused the message: code %d: %s", *r.Code, truncate(r.Msg, 128))
	}
	return nil
}
