package providers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gitopskit/kit/events"
)

// Matrix sends an m.text message to the room Channel (a room ID or alias)
// on the homeserver Address with an access Token. The transaction ID is a
// digest of the notification, so a retried delivery is not posted twice.
type Matrix struct {
	base   string
	room   string
	token  string
	client *client
}

var _ events.Provider = (*Matrix)(nil)

type matrixMessage struct {
	MsgType string `json:"msgtype"`
	Body    string `json:"body"`
}

// NewMatrix reads Address, Channel and Token.
func NewMatrix(c Config) (*Matrix, error) {
	u, err := parseAddress(TypeMatrix, c.Address)
	if err != nil {
		return nil, err
	}
	if c.Channel == "" {
		return nil, configError(TypeMatrix, "channel (the room ID) is required")
	}
	if c.Token == "" {
		return nil, configError(TypeMatrix, "token (the access token) is required")
	}
	return &Matrix{base: strings.TrimSuffix(u.String(), "/"), room: c.Channel, token: c.Token, client: newClient(TypeMatrix, c)}, nil
}

// Post sends the message.
func (m *Matrix) Post(ctx context.Context, n *events.Notification) error {
	e := &n.Event
	icon := "💫"
	if failing(n) {
		icon = "🚨"
	}
	var b strings.Builder
	b.WriteString(icon + " " + objectTitle(e) + "\n" + e.Message + "\n")
	for _, p := range metadataPairs(e) {
		b.WriteString("- " + p.key + ": " + p.value + "\n")
	}
	u := m.base + "/_matrix/client/v3/rooms/" + url.PathEscape(m.room) + "/send/m.room.message/" + txnID(n)
	_, err := m.client.sendJSON(ctx, http.MethodPut, u, matrixMessage{MsgType: "m.text", Body: b.String()}, bearer(m.token))
	return err
}

// txnID identifies a notification: the same one retried gets the same ID.
func txnID(n *events.Notification) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(&n.Event)
	h.Write([]byte(string(n.Kind) + "/" + strconv.Itoa(n.Count)))
	return hex.EncodeToString(h.Sum(nil))[:32]
}
