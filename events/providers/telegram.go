package providers

import (
	"context"
	"strconv"
	"strings"

	"github.com/gitopskit/kit/events"
)

// TelegramURL is the Bot API's address, the default Address.
const TelegramURL = "https://api.telegram.org"

// telegramTextMax is the Bot API's bound on a message, in characters.
const telegramTextMax = 4096

// Telegram sends a MarkdownV2 message with sendMessage to the chat
// Channel ("<chat id>" or "<chat id>:<topic id>" for a forum topic) as the
// bot whose Token is given. The token travels in the URL path, as the Bot
// API wants; it never appears in an error.
type Telegram struct {
	url    string
	chat   string
	thread int64
	client *client
}

var _ events.Provider = (*Telegram)(nil)

type telegramMessage struct {
	ChatID          string `json:"chat_id"`
	MessageThreadID int64  `json:"message_thread_id,omitempty"`
	Text            string `json:"text"`
	ParseMode       string `json:"parse_mode"`
}

// NewTelegram reads Address (default TelegramURL), Channel and Token.
func NewTelegram(c Config) (*Telegram, error) {
	addr := c.Address
	if addr == "" {
		addr = TelegramURL
	}
	u, err := parseAddress(TypeTelegram, addr)
	if err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, configError(TypeTelegram, "token (the bot token) is required")
	}
	if strings.ContainsAny(c.Token, "/?#") {
		return nil, configError(TypeTelegram, "token has characters a bot token never has")
	}
	chat, topic, hasTopic := strings.Cut(c.Channel, ":")
	if chat == "" {
		return nil, configError(TypeTelegram, "channel (the chat ID) is required")
	}
	t := &Telegram{chat: chat}
	if hasTopic {
		if t.thread, err = strconv.ParseInt(topic, 10, 64); err != nil {
			return nil, configError(TypeTelegram, "the topic in channel <chat>:<topic> must be a number")
		}
	}
	t.url = strings.TrimSuffix(u.String(), "/") + "/bot" + c.Token + "/sendMessage"
	t.client = newClient(TypeTelegram, c)
	return t, nil
}

// Post sends the message.
func (t *Telegram) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	icon := "💫"
	if failing(n) {
		icon = "🚨"
	}
	var b strings.Builder
	b.WriteString("*" + telegramEscape(icon+" "+objectTitle(e)) + "*\n")
	b.WriteString(telegramEscape(e.Message) + "\n")
	for _, p := range metadataPairs(e) {
		b.WriteString("\\- *" + telegramEscape(p.key) + "*: " + telegramEscape(p.value) + "\n")
	}
	text := b.String()
	if len([]rune(text)) > telegramTextMax {
		text = truncateRunes(text, telegramTextMax-1)
		text = strings.TrimSuffix(text, "\\") + "…"
	}
	msg := telegramMessage{ChatID: t.chat, MessageThreadID: t.thread, Text: text, ParseMode: "MarkdownV2"}
	_, err := t.client.postJSON(ctx, t.url, msg, nil)
	return err
}

// telegramEscape escapes what MarkdownV2 reserves.
func telegramEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("_*[]()~`>#+-=|{}.!\\", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
