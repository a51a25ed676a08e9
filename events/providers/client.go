package providers

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gitopskit/kit/events"
)

// maxResponseBytes bounds what is read of a service's answer.
const maxResponseBytes = 64 << 10

// maxErrorBody bounds how much of an error answer an error message quotes.
const maxErrorBody = 256

const userAgent = "gitopskit-events/1"

// StatusError is an answer outside 2xx. Body is the start of the answer,
// with every credential of the provider masked.
type StatusError struct {
	Provider string
	Method   string
	// Origin is the scheme and host the request went to; never the path
	// or query, which may carry a webhook secret.
	Origin string
	Code   int
	Body   string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: %s %s: HTTP %d %s", e.Provider, e.Method, e.Origin, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Retryable reports whether a later attempt may succeed: 408, 429 and 5xx.
func (e *StatusError) Retryable() bool {
	return e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// transportError is a request that got no answer. Its message names the
// origin only; it unwraps to the transport's own cause (a net.OpError, a
// TLS error, a context error), never to the *url.Error that quotes the URL.
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }

// client sends a provider's requests and shapes its errors.
type client struct {
	name    string
	http    *http.Client
	headers map[string]string
	secrets []string
}

func newClient(name string, c Config, extraSecrets ...string) *client {
	rt := c.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if c.TLS != nil {
			t.TLSClientConfig = c.TLS.Clone()
		}
		if c.Proxy != nil {
			t.Proxy = http.ProxyURL(c.Proxy)
		}
		rt = t
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &client{
		name: name,
		http: &http.Client{
			Transport: rt,
			Timeout:   timeout,
			// A redirect would carry custom credential headers (PRIVATE-TOKEN,
			// DD-API-KEY…) to wherever it points: never follow one.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		headers: c.Headers,
		secrets: secretsOf(c, extraSecrets...),
	}
}

// secretsOf lists every string that must not appear in an error, in the
// forms a server may echo it: as is, URL-escaped, inside basic auth.
func secretsOf(c Config, extra ...string) []string {
	base := append([]string{c.Token, c.Password}, extra...)
	for _, v := range c.Headers {
		base = append(base, v)
	}
	if u, err := url.Parse(strings.TrimSpace(c.Address)); err == nil {
		if len(u.Path) > 1 {
			base = append(base, u.Path, u.EscapedPath())
		}
		if u.RawQuery != "" {
			base = append(base, u.RawQuery)
		}
		if p, ok := u.User.Password(); ok {
			base = append(base, p)
		}
	}
	for _, pair := range [][2]string{{c.Username, c.Password}, {c.Username, c.Token}, {"", c.Token}} {
		if pair[1] != "" {
			base = append(base, base64.StdEncoding.EncodeToString([]byte(pair[0]+":"+pair[1])))
		}
	}
	if c.Token != "" {
		base = append(base, base64.StdEncoding.EncodeToString([]byte(c.Token)))
	}
	var out []string
	for _, s := range base {
		s = strings.TrimSpace(s)
		if len(s) < 3 {
			continue
		}
		out = append(out, s, url.QueryEscape(s), url.PathEscape(s))
	}
	// Longest first, so a secret containing another is masked whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// mask replaces every secret in s with "***".
func (c *client) mask(s string) string {
	for _, sec := range c.secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// call is one request.
type call struct {
	method      string
	url         string
	body        []byte
	contentType string
	header      http.Header
}

// do sends the request and returns the answer's body (at most
// maxResponseBytes) when the status is 2xx.
func (c *client) do(ctx context.Context, r call) ([]byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, events.Permanent(fmt.Errorf("%s: building the request: invalid URL", c.name))
	}
	origin := req.URL.Scheme + "://" + req.URL.Host
	req.Header.Set("User-Agent", userAgent)
	if r.body != nil && r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	for k, vs := range r.header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(r.method, origin, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, c.transportError(r.method, origin, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return answer, nil
	}
	se := &StatusError{Provider: c.name, Method: r.method, Origin: origin, Code: resp.StatusCode, Body: c.errorBody(answer)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		se.Body = "redirects are not followed"
	}
	if se.Retryable() {
		return nil, se
	}
	return nil, events.Permanent(se)
}

func (c *client) transportError(method, origin string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	te := &transportError{msg: c.mask(fmt.Sprintf("%s: %s %s: %v", c.name, method, origin, err)), err: err}
	var unknownCA x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	if errors.As(err, &unknownCA) || errors.As(err, &verify) || errors.As(err, &hostname) {
		return events.Permanent(te)
	}
	return te
}

// errorBody is the start of an error answer, masked, on one line.
func (c *client) errorBody(b []byte) string {
	s := c.mask(string(b))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.TrimSpace(s)
	if len(s) > maxErrorBody {
		cut := maxErrorBody
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// postJSON marshals payload and POSTs it.
func (c *client) postJSON(ctx context.Context, u string, payload any, header http.Header) ([]byte, error) {
	return c.sendJSON(ctx, http.MethodPost, u, payload, header)
}

func (c *client) sendJSON(ctx context.Context, method, u string, payload any, header http.Header) ([]byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, events.Permanent(fmt.Errorf("%s: encoding the payload: %w", c.name, err))
	}
	return c.do(ctx, call{method: method, url: u, body: body, contentType: "application/json", header: header})
}

// answerError is a 2xx answer whose body says the request failed (Slack's
// {"ok":false}, Lark's {"code":…}).
func (c *client) answerError(format string, args ...any) error {
	return events.Permanent(fmt.Errorf("%s: %s", c.name, c.mask(fmt.Sprintf(format, args...))))
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func basicAuth(user, password string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}}
}
