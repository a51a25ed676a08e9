package providers

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gitopskit/kit/events"
)

// Config is what a provider is built from: the fields of a Provider object
// and of the Secrets it references. Each provider documents which fields it
// reads; the rest are ignored.
type Config struct {
	// Address is the webhook URL, API endpoint or repository URL. Some
	// providers have a default (the service's public API).
	Address string
	// Channel is the channel, room, chat, stream/topic or routing key.
	Channel string
	// Username is the name to post as, or the user of basic auth.
	Username string
	// Token is the API token, bot token, routing key or HMAC key. It never
	// appears in an error.
	Token string
	// Password is the password of basic auth. It never appears in an error.
	Password string
	// Headers are added to every request (values never appear in an error).
	Headers map[string]string
	// TLS configures HTTPS (a CA, a client certificate).
	TLS *tls.Config
	// Proxy is the proxy to use; nil means the environment's
	// (HTTPS_PROXY, NO_PROXY).
	Proxy *url.URL
	// Timeout bounds each request; default 15s. The hub's context bounds
	// it as well.
	Timeout time.Duration
	// Transport replaces the HTTP transport (TLS and Proxy are then
	// ignored); for tests and instrumentation.
	Transport http.RoundTripper
}

// DefaultTimeout bounds a provider request when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Constructor builds a provider from its configuration.
type Constructor func(Config) (events.Provider, error)

// Registry maps a provider type name (a Provider object's spec.type) to its
// constructor. Default returns one with every built-in type; add your own
// types to it.
type Registry map[string]Constructor

// ErrUnknownType is returned by Registry.New for a type it does not hold.
var ErrUnknownType = errors.New("unknown provider type")

// ErrConfig is wrapped by every error about a provider's configuration.
var ErrConfig = errors.New("invalid provider configuration")

// Provider type names, as Flux spells them (mattermost is ours).
const (
	TypeGeneric         = "generic"
	TypeGenericHMAC     = "generic-hmac"
	TypeSlack           = "slack"
	TypeMSTeams         = "msteams"
	TypeDiscord         = "discord"
	TypeGoogleChat      = "googlechat"
	TypeRocket          = "rocket"
	TypeMattermost      = "mattermost"
	TypeWebex           = "webex"
	TypeTelegram        = "telegram"
	TypeMatrix          = "matrix"
	TypeLark            = "lark"
	TypeZulip           = "zulip"
	TypeAlertmanager    = "alertmanager"
	TypeGrafana         = "grafana"
	TypePagerDuty       = "pagerduty"
	TypeOpsgenie        = "opsgenie"
	TypeDatadog         = "datadog"
	TypeSentry          = "sentry"
	TypeGitHub          = "github"
	TypeGitHubDispatch  = "githubdispatch"
	TypeGitLab          = "gitlab"
	TypeGitea           = "gitea"
	TypeBitbucket       = "bitbucket"
	TypeBitbucketServer = "bitbucketserver"
	TypeAzureDevOps     = "azuredevops"
)

// Default returns a new Registry holding every built-in provider type.
func Default() Registry {
	return Registry{
		TypeGeneric:         func(c Config) (events.Provider, error) { return NewGeneric(c) },
		TypeGenericHMAC:     func(c Config) (events.Provider, error) { return NewGenericHMAC(c) },
		TypeSlack:           func(c Config) (events.Provider, error) { return NewSlack(c) },
		TypeMSTeams:         func(c Config) (events.Provider, error) { return NewMSTeams(c) },
		TypeDiscord:         func(c Config) (events.Provider, error) { return NewDiscord(c) },
		TypeGoogleChat:      func(c Config) (events.Provider, error) { return NewGoogleChat(c) },
		TypeRocket:          func(c Config) (events.Provider, error) { return NewRocket(c) },
		TypeMattermost:      func(c Config) (events.Provider, error) { return NewMattermost(c) },
		TypeWebex:           func(c Config) (events.Provider, error) { return NewWebex(c) },
		TypeTelegram:        func(c Config) (events.Provider, error) { return NewTelegram(c) },
		TypeMatrix:          func(c Config) (events.Provider, error) { return NewMatrix(c) },
		TypeLark:            func(c Config) (events.Provider, error) { return NewLark(c) },
		TypeZulip:           func(c Config) (events.Provider, error) { return NewZulip(c) },
		TypeAlertmanager:    func(c Config) (events.Provider, error) { return NewAlertmanager(c) },
		TypeGrafana:         func(c Config) (events.Provider, error) { return NewGrafana(c) },
		TypePagerDuty:       func(c Config) (events.Provider, error) { return NewPagerDuty(c) },
		TypeOpsgenie:        func(c Config) (events.Provider, error) { return NewOpsgenie(c) },
		TypeDatadog:         func(c Config) (events.Provider, error) { return NewDatadog(c) },
		TypeSentry:          func(c Config) (events.Provider, error) { return NewSentry(c) },
		TypeGitHub:          func(c Config) (events.Provider, error) { return NewGitHub(c) },
		TypeGitHubDispatch:  func(c Config) (events.Provider, error) { return NewGitHubDispatch(c) },
		TypeGitLab:          func(c Config) (events.Provider, error) { return NewGitLab(c) },
		TypeGitea:           func(c Config) (events.Provider, error) { return NewGitea(c) },
		TypeBitbucket:       func(c Config) (events.Provider, error) { return NewBitbucket(c) },
		TypeBitbucketServer: func(c Config) (events.Provider, error) { return NewBitbucketServer(c) },
		TypeAzureDevOps:     func(c Config) (events.Provider, error) { return NewAzureDevOps(c) },
	}
}

// New builds a provider of the named type.
func (r Registry) New(typ string, c Config) (events.Provider, error) {
	ctor, ok := r[typ]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, truncate(typ, 64))
	}
	return ctor(c)
}

// Types lists the registry's type names, sorted (for a CRD enum or a
// validation message).
func (r Registry) Types() []string {
	out := make([]string, 0, len(r))
	for k := range r {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func configError(provider, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", provider, ErrConfig, fmt.Sprintf(format, args...))
}

// parseAddress parses an http(s) URL, naming only what is wrong: an
// address may carry a secret (a webhook token in its path), so it is never
// quoted.
func parseAddress(provider, addr string) (*url.URL, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, configError(provider, "address is required")
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, configError(provider, "address is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, configError(provider, "address must be an http or https URL")
	}
	if u.Host == "" {
		return nil, configError(provider, "address has no host")
	}
	return u, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
