package providers

import (
	"context"
	"html"

	"github.com/gitopskit/kit/events"
)

// GoogleChat posts a card (cardsV2) to a Google Chat space webhook
// (Address): the object and the reporting controller in the header, the
// message (red for a failure), the metadata as decorated texts.
type GoogleChat struct {
	url    string
	client *client
}

var _ events.Provider = (*GoogleChat)(nil)

type chatMessage struct {
	CardsV2 []chatCardWithID `json:"cardsV2"`
}

type chatCardWithID struct {
	CardID string   `json:"cardId"`
	Card   chatCard `json:"card"`
}

type chatCard struct {
	Header   chatHeader    `json:"header"`
	Sections []chatSection `json:"sections"`
}

type chatHeader struct {
	Title    string `json:"title"`
	Subtitle string `json:"subtitle,omitempty"`
}

type chatSection struct {
	Widgets []chatWidget `json:"widgets"`
}

type chatWidget struct {
	TextParagraph *chatText      `json:"textParagraph,omitempty"`
	DecoratedText *chatDecorated `json:"decoratedText,omitempty"`
}

type chatText struct {
	Text string `json:"text"`
}

type chatDecorated struct {
	TopLabel string `json:"topLabel"`
	Text     string `json:"text"`
	WrapText bool   `json:"wrapText"`
}

// NewGoogleChat reads Address.
func NewGoogleChat(c Config) (*GoogleChat, error) {
	u, err := parseAddress(TypeGoogleChat, c.Address)
	if err != nil {
		return nil, err
	}
	return &GoogleChat{url: u.String(), client: newClient(TypeGoogleChat, c)}, nil
}

// Post sends the card.
func (g *GoogleChat) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	// Card text is a subset of HTML: escape the message, then colour it.
	text := html.EscapeString(e.Message)
	if failing(n) {
		text = `<font color="#d93025">` + text + `</font>`
	}
	sections := []chatSection{{Widgets: []chatWidget{{TextParagraph: &chatText{Text: text}}}}}
	if pairs := metadataPairs(e); len(pairs) > 0 {
		var ws []chatWidget
		for _, p := range pairs {
			ws = append(ws, chatWidget{DecoratedText: &chatDecorated{TopLabel: p.key, Text: html.EscapeString(p.value), WrapText: true}})
		}
		sections = append(sections, chatSection{Widgets: ws})
	}
	msg := chatMessage{CardsV2: []chatCardWithID{{
		CardID: "gitopskit-event",
		Card: chatCard{
			Header:   chatHeader{Title: objectTitle(e), Subtitle: e.ReportingController},
			Sections: sections,
		},
	}}}
	_, err := g.client.postJSON(ctx, g.url, msg, nil)
	return err
}
