package providers

import (
	"context"

	"github.com/gitopskit/kit/events"
)

// WebexURL is Webex's create-message endpoint, the default Address.
const WebexURL = "https://webexapis.com/v1/messages"

// Webex creates a Markdown message in the room Channel (a room ID) with a
// bot Token.
type Webex struct {
	url    string
	room   string
	token  string
	client *client
}

var _ events.Provider = (*Webex)(nil)

type webexMessage struct {
	RoomID   string `json:"roomId"`
	Markdown string `json:"markdown"`
}

// NewWebex reads Address (default WebexURL), Channel and Token.
func NewWebex(c Config) (*Webex, error) {
	addr := c.Address
	if addr == "" {
		addr = WebexURL
	}
	u, err := parseAddress(TypeWebex, addr)
	if err != nil {
		return nil, err
	}
	if c.Channel == "" {
		return nil, configError(TypeWebex, "channel (the room ID) is required")
	}
	if c.Token == "" {
		return nil, configError(TypeWebex, "token (the bot token) is required")
	}
	return &Webex{url: u.String(), room: c.Channel, token: c.Token, client: newClient(TypeWebex, c)}, nil
}

// Post sends the message.
func (w *Webex) Post(ctx context.Context, n *events.Notification) error {
	icon := "✅"
	if failing(n) {
		icon = "❌"
	}
	msg := webexMessage{RoomID: w.room, Markdown: icon + " " + markdown(n)}
	_, err := w.client.postJSON(ctx, w.url, msg, bearer(w.token))
	return err
}
