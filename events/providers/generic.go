package providers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gitopskit/kit/events"
)

// ComponentHeader names the reporting controller on generic webhook
// requests; Flux's notification-controller sends the same header.
const ComponentHeader = "gotk-component"

// SignatureHeader carries the generic-hmac signature: "sha256=<hex>", the
// HMAC-SHA256 of the body keyed with the token.
const SignatureHeader = "X-Signature"

// Generic posts the event JSON, exactly as Flux's generic provider does, to
// Address, with Headers. The receivers package's generic and generic-hmac
// receivers, and Flux's, accept it.
type Generic struct {
	url    string
	client *client
	key    []byte
}

var _ events.Provider = (*Generic)(nil)

// NewGeneric reads Address and Headers.
func NewGeneric(c Config) (*Generic, error) {
	u, err := parseAddress(TypeGeneric, c.Address)
	if err != nil {
		return nil, err
	}
	return &Generic{url: u.String(), client: newClient(TypeGeneric, c)}, nil
}

// NewGenericHMAC is NewGeneric that also signs each body with Token in the
// X-Signature header.
func NewGenericHMAC(c Config) (*Generic, error) {
	u, err := parseAddress(TypeGenericHMAC, c.Address)
	if err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, configError(TypeGenericHMAC, "token (the HMAC key) is required")
	}
	return &Generic{url: u.String(), client: newClient(TypeGenericHMAC, c), key: []byte(c.Token)}, nil
}

// Post sends the event.
func (g *Generic) Post(ctx context.Context, n *events.Notification) error {
	body, err := json.Marshal(&n.Event)
	if err != nil {
		return events.Permanent(fmt.Errorf("%s: encoding the event: %w", g.client.name, err))
	}
	h := http.Header{ComponentHeader: {n.Event.ReportingController}}
	if g.key != nil {
		h.Set(SignatureHeader, Sign(g.key, body))
	}
	_, err = g.client.do(ctx, call{method: http.MethodPost, url: g.url, body: body, contentType: "application/json", header: h})
	return err
}

// Sign returns the X-Signature value for body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with key.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
