package providers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitopskit/kit/events"
)

// Zulip sends a stream message through Zulip's REST API: POST
// <Address>/api/v1/messages, form-encoded, with basic auth of the bot's
// email (Username) and API key (Password, or Token). Channel is
// "<stream>/<topic>".
type Zulip struct {
	url           string
	stream, topic string
	user, key     string
	client        *client
}

var _ events.Provider = (*Zulip)(nil)

// NewZulip reads Address, Channel, Username and Password or Token.
func NewZulip(c Config) (*Zulip, error) {
	u, err := parseAddress(TypeZulip, c.Address)
	if err != nil {
		return nil, err
	}
	stream, topic, ok := strings.Cut(c.Channel, "/")
	if !ok || stream == "" || topic == "" {
		return nil, configError(TypeZulip, "channel must be <stream>/<topic>")
	}
	key := c.Password
	if key == "" {
		key = c.Token
	}
	if c.Username == "" || key == "" {
		return nil, configError(TypeZulip, "username (the bot's email) and password or token (its API key) are required")
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/messages"
	u.RawQuery = ""
	return &Zulip{url: u.String(), stream: stream, topic: topic, user: c.Username, key: key, client: newClient(TypeZulip, c)}, nil
}

// Post sends the message.
func (z *Zulip) Post(ctx context.Context, n *events.Notification) error {
	form := url.Values{
		"type":    {"stream"},
		"to":      {z.stream},
		"topic":   {z.topic},
		"content": {markdown(n)},
	}
	_, err := z.client.do(ctx, call{
		method:      http.MethodPost,
		url:         z.url,
		body:        []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded",
		header:      basicAuth(z.user, z.key),
	})
	return err
}
