package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gitopskit/kit/events"
)

// SlackBotURL is Slack's chat.postMessage method, used with a bot token.
const SlackBotURL = "https://slack.com/api/chat.postMessage"

// Slack posts to a Slack incoming webhook (Address), or, with a bot Token,
// to chat.postMessage (Address defaults to SlackBotURL; Channel is then
// required), whose {"ok":false,"error":…} answers are errors. Username
// overrides the poster's name; by default the reporting controller's.
type Slack struct {
	url      string
	channel  string
	username string
	token    string
	client   *client
}

var _ events.Provider = (*Slack)(nil)

// slackMessage is a message with one legacy attachment: the shape both
// incoming webhooks and chat.postMessage take, and that Mattermost and
// Rocket.Chat incoming webhooks accept.
type slackMessage struct {
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	Alias       string            `json:"alias,omitempty"` // Rocket.Chat's username override
	Text        string            `json:"text,omitempty"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback   string       `json:"fallback,omitempty"`
	Color      string       `json:"color"`
	AuthorName string       `json:"author_name"`
	Text       string       `json:"text"`
	MrkdwnIn   []string     `json:"mrkdwn_in,omitempty"`
	Fields     []slackField `json:"fields"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

func slackAttachmentFor(n *events.Notification, good, danger string) slackAttachment {
	e := &n.Event
	color := good
	if failing(n) {
		color = danger
	}
	fields := []slackField{}
	for _, p := range metadataPairs(e) {
		fields = append(fields, slackField{Title: p.key, Value: p.value})
	}
	return slackAttachment{
		Fallback:   objectTitle(e) + ": " + firstLine(e.Message),
		Color:      color,
		AuthorName: objectTitle(e),
		Text:       e.Message,
		MrkdwnIn:   []string{"text"},
		Fields:     fields,
	}
}

// NewSlack reads Address, Token, Channel and Username.
func NewSlack(c Config) (*Slack, error) {
	addr := c.Address
	if addr == "" && c.Token != "" {
		addr = SlackBotURL
	}
	u, err := parseAddress(TypeSlack, addr)
	if err != nil {
		return nil, err
	}
	if c.Token != "" && c.Channel == "" {
		return nil, configError(TypeSlack, "a bot token needs a channel")
	}
	return &Slack{url: u.String(), channel: c.Channel, username: c.Username, token: c.Token, client: newClient(TypeSlack, c)}, nil
}

// Post sends the message.
func (s *Slack) Post(ctx context.Context, n *events.Notification) error {
	msg := slackMessage{
		Channel:     s.channel,
		Username:    s.username,
		Attachments: []slackAttachment{slackAttachmentFor(n, "good", "danger")},
	}
	if msg.Username == "" {
		msg.Username = n.Event.ReportingController
	}
	var h http.Header
	if s.token != "" {
		h = bearer(s.token)
	}
	answer, err := s.client.postJSON(ctx, s.url, msg, h)
	if err != nil || s.token == "" {
		return err
	}
	// chat.postMessage answers 200 and says in the body whether it worked;
	// an incoming webhook used with a token answers a plain "ok".
	if strings.TrimSpace(string(answer)) == "ok" {
		return nil
	}
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(answer, &r) != nil {
		return s.client.answerError("unreadable answer")
	}
	if !r.OK {
		return s.client.answerError("slack refused the message: %s", truncate(r.Error, 128))
	}
	return nil
}

// Mattermost posts to a Mattermost incoming webhook (Address), as Channel
// and Username when set.
type Mattermost struct {
	url      string
	channel  string
	username string
	client   *client
}

var _ events.Provider = (*Mattermost)(nil)

// NewMattermost reads Address, Channel and Username.
func NewMattermost(c Config) (*Mattermost, error) {
	u, err := parseAddress(TypeMattermost, c.Address)
	if err != nil {
		return nil, err
	}
	return &Mattermost{url: u.String(), channel: c.Channel, username: c.Username, client: newClient(TypeMattermost, c)}, nil
}

// Post sends the message.
func (m *Mattermost) Post(ctx context.Context, n *events.Notification) error {
	msg := slackMessage{
		Channel:     m.channel,
		Username:    m.username,
		Attachments: []slackAttachment{slackAttachmentFor(n, "#2eb886", "#a30200")},
	}
	if msg.Username == "" {
		msg.Username = n.Event.ReportingController
	}
	_, err := m.client.postJSON(ctx, m.url, msg, nil)
	return err
}

// Rocket posts to a Rocket.Chat incoming webhook (Address), to Channel and
// under the alias Username when set.
type Rocket struct {
	url      string
	channel  string
	username string
	client   *client
}

var _ events.Provider = (*Rocket)(nil)

// NewRocket reads Address, Channel and Username.
func NewRocket(c Config) (*Rocket, error) {
	u, err := parseAddress(TypeRocket, c.Address)
	if err != nil {
		return nil, err
	}
	return &Rocket{url: u.String(), channel: c.Channel, username: c.Username, client: newClient(TypeRocket, c)}, nil
}

// Post sends the message.
func (r *Rocket) Post(ctx context.Context, n *events.Notification) error {
	a := slackAttachmentFor(n, "#0076D7", "#FF0000")
	a.MrkdwnIn = nil
	msg := slackMessage{Channel: r.channel, Alias: r.username, Attachments: []slackAttachment{a}}
	_, err := r.client.postJSON(ctx, r.url, msg, nil)
	return err
}
