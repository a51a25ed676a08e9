package receivers

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// Verify checks one webhook against the receiver and reads its payload.
// header and body are the request's; body must already be bounded. The
// checks per type:
//
//   - generic: none beyond the secret path;
//   - generic-hmac: X-Signature "sha256=<hex>" (or sha512) of the body;
//   - github: X-Hub-Signature-256 "sha256=<hex>" of the body, the event
//     in X-GitHub-Event (ping is answered and triggers nothing);
//   - gitlab: X-Gitlab-Token equal to the token, the event in X-Gitlab-Event;
//   - bitbucket (Server and Cloud): X-Hub-Signature "sha256=<hex>", the
//     event in X-Event-Key (diagnostics:ping is a ping);
//   - harbor: Authorization equal to the token;
//   - dockerhub, quay: the secret path, and a body of their push format;
//   - nexus: X-Nexus-Webhook-Signature, the hex HMAC-SHA1 of the body;
//   - cdevents: the secret path, and a valid CDEvent (binary CloudEvent).
//
// Signatures and tokens are compared in constant time. Authentication
// fails with ErrUnauthorized and nothing else said; a payload that cannot
// be read with ErrInvalidPayload.
func Verify(rcv *Receiver, header http.Header, body []byte) (*Request, error) {
	req := &Request{Receiver: rcv, Resources: rcv.resources()}
	var err error
	switch rcv.Type {
	case TypeGeneric:
	case TypeGenericHMAC:
		if !checkSignature(header.Get("X-Signature"), rcv.Token, body, true) {
			return nil, ErrUnauthorized
		}
	case TypeGitHub:
		if !checkSignature(header.Get("X-Hub-Signature-256"), rcv.Token, body, false) {
			return nil, ErrUnauthorized
		}
		req.Event = header.Get("X-GitHub-Event")
		req.Ping = req.Event == "ping"
		if !req.Ping {
			req.Payload, err = ParseGitHub(header.Get("Content-Type"), body)
		}
	case TypeGitLab:
		if !equalToken(header.Get("X-Gitlab-Token"), rcv.Token) {
			return nil, ErrUnauthorized
		}
		req.Event = header.Get("X-Gitlab-Event")
		req.Payload, err = ParseGitLab(body)
	case TypeBitbucket:
		if !checkSignature(header.Get("X-Hub-Signature"), rcv.Token, body, false) {
			return nil, ErrUnauthorized
		}
		req.Event = header.Get("X-Event-Key")
		req.Ping = req.Event == "diagnostics:ping"
		if !req.Ping {
			req.Payload, err = ParseBitbucket(body)
		}
	case TypeHarbor:
		if !equalToken(header.Get("Authorization"), rcv.Token) {
			return nil, ErrUnauthorized
		}
		req.Payload, req.Event, err = ParseHarbor(body)
	case TypeDockerHub:
		req.Payload, err = ParseDockerHub(body)
	case TypeQuay:
		req.Payload, err = ParseQuay(body)
	case TypeNexus:
		if !checkHex(header.Get("X-Nexus-Webhook-Signature"), sha1.New, rcv.Token, body) {
			return nil, ErrUnauthorized
		}
		req.Event = header.Get("X-Nexus-Webhook-Id")
		req.Payload, err = ParseNexus(body)
	case TypeCDEvents:
		req.Event, req.Payload, err = ParseCDEvent(header.Get("Ce-Type"), body)
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownType, truncate(rcv.Type))
	}
	if err != nil {
		return nil, err
	}
	if !req.Ping && !rcv.allowed(req.Event) {
		return req, ErrIgnored
	}
	return req, nil
}

// equalToken compares in constant time, also across lengths (both sides
// are hashed first). An empty token never matches.
func equalToken(got, want string) bool {
	if want == "" {
		return false
	}
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// checkSignature verifies "<algorithm>=<hex>" HMAC signatures: sha256, and
// sha512 when allowed.
func checkSignature(sig, key string, body []byte, sha512ok bool) bool {
	algo, hexsig, ok := strings.Cut(sig, "=")
	if !ok {
		return false
	}
	switch {
	case algo == "sha256":
		return checkHex(hexsig, sha256.New, key, body)
	case algo == "sha512" && sha512ok:
		return checkHex(hexsig, sha512.New, key, body)
	}
	return false
}

func checkHex(hexsig string, h func() hash.Hash, key string, body []byte) bool {
	if key == "" {
		return false
	}
	got, err := hex.DecodeString(hexsig)
	if err != nil {
		return false
	}
	m := hmac.New(h, []byte(key))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
