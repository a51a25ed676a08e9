package receivers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
)

// Receiver types, as Flux spells them.
const (
	TypeGeneric     = "generic"
	TypeGenericHMAC = "generic-hmac"
	TypeGitHub      = "github"
	TypeGitLab      = "gitlab"
	TypeBitbucket   = "bitbucket"
	TypeHarbor      = "harbor"
	TypeDockerHub   = "dockerhub"
	TypeQuay        = "quay"
	TypeNexus       = "nexus"
	TypeCDEvents    = "cdevents"
)

// Types lists every receiver type, sorted (for a CRD enum).
func Types() []string {
	t := []string{TypeGeneric, TypeGenericHMAC, TypeGitHub, TypeGitLab, TypeBitbucket, TypeHarbor, TypeDockerHub, TypeQuay, TypeNexus, TypeCDEvents}
	slices.Sort(t)
	return t
}

// PathPrefix starts every webhook path.
const PathPrefix = "/hook/"

// WebhookPath is the path a receiver listens on: PathPrefix and the
// SHA-256 of the token, the name and the namespace — Flux's derivation, so
// a migrated receiver keeps its URL. It cannot be guessed without the
// token.
func WebhookPath(token, name, namespace string) string {
	sum := sha256.Sum256([]byte(token + name + namespace))
	return PathPrefix + hex.EncodeToString(sum[:])
}

// Receiver is one webhook receiver, as a Receiver object and its Secret
// declare it.
type Receiver struct {
	Type      string
	Name      string
	Namespace string
	// Token is the shared secret: it derives the path and, for the types
	// that sign or send a token, checks each request. Never logged.
	Token string
	// Events, when not empty, lets through only these event types
	// (case-insensitive): GitHub's X-GitHub-Event, GitLab's
	// X-Gitlab-Event, Bitbucket's X-Event-Key, Harbor's payload type,
	// Nexus' X-Nexus-Webhook-Id, the CDEvent type. Other events are
	// answered 202 and trigger nothing.
	Events []string
	// Resources are the objects a verified webhook asks to reconcile.
	Resources []Resource
}

// Path is the receiver's webhook path.
func (r *Receiver) Path() string { return WebhookPath(r.Token, r.Name, r.Namespace) }

// Resource names objects to reconcile.
type Resource struct {
	APIVersion string
	Kind       string
	// Name is an object's name, or "*" for every object with MatchLabels.
	Name string
	// Namespace defaults to the receiver's.
	Namespace   string
	MatchLabels map[string]string
}

// Request is a verified webhook: who sent what, and which objects it asks
// to reconcile.
type Request struct {
	Receiver *Receiver
	// Event is the event type as the sender names it; empty for the types
	// that have none (generic, Docker Hub, Quay).
	Event string
	// Ping is true for a sender's connectivity check (GitHub's ping,
	// Bitbucket's diagnostics:ping): answered 200, triggers nothing.
	Ping bool
	// Payload is what was read from the body.
	Payload Payload
	// Resources are the receiver's, each namespace filled in.
	Resources []Resource
}

// Payload is what a webhook body says, as far as the type tells: the
// repository, and the ref and commit of a push or the tags of an image.
type Payload struct {
	Repository string
	Ref        string
	Commit     string
	Tags       []string
}

// Errors of Verify, mapped to HTTP statuses by the Handler.
var (
	// ErrUnauthorized: a missing or wrong signature or token (401). The
	// error says nothing more, whatever was wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalidPayload: a body the type cannot read (400).
	ErrInvalidPayload = errors.New("invalid payload")
	// ErrIgnored: verified, but an event outside the receiver's Events
	// (202).
	ErrIgnored = errors.New("event not in the receiver's events")
	// ErrUnknownType: a receiver of a type this package does not have.
	ErrUnknownType = errors.New("unknown receiver type")
)

func (r *Receiver) allowed(event string) bool {
	if len(r.Events) == 0 {
		return true
	}
	for _, e := range r.Events {
		if strings.EqualFold(e, event) {
			return true
		}
	}
	return false
}

func (r *Receiver) resources() []Resource {
	out := make([]Resource, len(r.Resources))
	for i, res := range r.Resources {
		if res.Namespace == "" {
			res.Namespace = r.Namespace
		}
		out[i] = res
	}
	return out
}
