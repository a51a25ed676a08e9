package providers

import (
	"context"

	"github.com/gitopskit/kit/events"
)

// Discord posts one embed to a Discord webhook (Address): the object as
// the title, the message as the description (both cut to Discord's
// limits), the metadata as fields (at most 25), red for a failure, green
// otherwise. Username overrides the webhook's name.
type Discord struct {
	url      string
	username string
	client   *client
}

var _ events.Provider = (*Discord)(nil)

// Discord's documented embed limits.
const (
	discordTitleMax       = 256
	discordDescriptionMax = 4096
	discordFieldsMax      = 25
	discordFieldNameMax   = 256
	discordFieldValueMax  = 1024
)

type discordMessage struct {
	Username string         `json:"username,omitempty"`
	Embeds   []discordEmbed `json:"embeds"`
}

type discordEmbed struct {
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Color       int            `json:"color"`
	Timestamp   string         `json:"timestamp,omitempty"`
	Fields      []discordField `json:"fields,omitempty"`
}

type discordField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

// NewDiscord reads Address and Username.
func NewDiscord(c Config) (*Discord, error) {
	u, err := parseAddress(TypeDiscord, c.Address)
	if err != nil {
		return nil, err
	}
	return &Discord{url: u.String(), username: c.Username, client: newClient(TypeDiscord, c)}, nil
}

// Post sends the embed.
func (d *Discord) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	color := 0x2ECC71
	if failing(n) {
		color = 0xE74C3C
	}
	embed := discordEmbed{
		Title:       truncateRunes(objectTitle(e), discordTitleMax),
		Description: truncateRunes(e.Message, discordDescriptionMax),
		Color:       color,
	}
	if !e.Timestamp.IsZero() {
		embed.Timestamp = e.Timestamp.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, p := range metadataPairs(e) {
		if len(embed.Fields) == discordFieldsMax {
			break
		}
		v := p.value
		if v == "" {
			v = "-" // Discord refuses an empty field value
		}
		embed.Fields = append(embed.Fields, discordField{
			Name:  truncateRunes(p.key, discordFieldNameMax),
			Value: truncateRunes(v, discordFieldValueMax),
		})
	}
	_, err := d.client.postJSON(ctx, d.url, discordMessage{Username: d.username, Embeds: []discordEmbed{embed}}, nil)
	return err
}
