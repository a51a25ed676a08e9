package redact

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// minSecret is the length from which a credential is replaced wherever it
// appears; a shorter one would mask ordinary words, so it is removed only
// in credential contexts (an Authorization header, a userinfo, a
// credential-named parameter) and through its longer encodings.
const minSecret = 3

// Secrets is a set of credentials to remove from messages, in every form a
// server or a library may echo them.
type Secrets struct {
	forms []string
}

// Add registers a credential: raw, URL-escaped (query and path) and
// base64-encoded. Empty strings are ignored.
func (s *Secrets) Add(secrets ...string) {
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		s.add(secret, url.QueryEscape(secret), url.PathEscape(secret))
		s.addEncoded(secret)
	}
}

// AddBasic registers the HTTP basic credentials user:password as a server
// echoing the Authorization header would show them (base64, padded or not,
// standard or URL alphabet), the password itself, and the user name when
// it may be the credential: when there is no password (a token given as
// the user name) or when it is long enough to be a token (8 characters or
// more; "git" or "oauth2" are kept, so messages stay readable).
func (s *Secrets) AddBasic(user, password string) {
	if user == "" && password == "" {
		return
	}
	s.addEncoded(user + ":" + password)
	s.Add(password)
	if password == "" || len(user) >= 8 {
		s.Add(user)
	}
}

func (s *Secrets) addEncoded(v string) {
	b := []byte(v)
	s.add(base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
}

func (s *Secrets) add(forms ...string) {
	for _, f := range forms {
		if len(f) >= minSecret && !contains(s.forms, f) {
			s.forms = append(s.forms, f)
		}
	}
	// Longest first, so a form is never left half-replaced by a shorter one
	// it contains.
	sort.SliceStable(s.forms, func(i, j int) bool { return len(s.forms[i]) > len(s.forms[j]) })
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var (
	// headerContext is an authorization header's value, in a raw request
	// dump ("Authorization: Basic dTpw"), a Go header map
	// ("Authorization:[Bearer x]") or JSON ("authorization": "token x").
	headerContext = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|private-token|x-auth-token|x-api-key|api-key|x-access-token)("?\s*[:=]\s*\[?"?)((?:basic|bearer|token|digest|negotiate|ntlm)\s+)?([^\s"',;\]\)]+)`)
	// urlToken is a URL with a scheme, in any spelling.
	urlToken = regexp.MustCompile(`(?i)\b(?:https?|ssh|git|git\+ssh|ssh\+git|ftps?|socks5h?):[^\s"'<>` + "`" + `\\]+`)
	// userinfoToken is anything shaped like "user:password@host", such as
	// a scp-like remote.
	userinfoToken = regexp.MustCompile(`[^\s"'<>()\[\]{}=:]+:[^\s"'<>()\[\]{}]*@[^\s"'<>()\[\]{}]+`)
	// fieldContext is a credential-named field: "password=x",
	// "access_token=x", `"token": "x"`.
	fieldContext = regexp.MustCompile(`(?i)([A-Za-z0-9_.-]*(?:token|secret|passw|pwd|credential|signature|api[_-]?key|access[_-]?key|private[_-]?key)[A-Za-z0-9_.-]*)(=|"?\s*:\s*")([^&#\s"',;]+)`)
)

// Scrub removes the registered credentials from msg, and any credential
// found in a credential context whether registered or not: authorization
// header values, URL userinfo, credential-named query parameters and
// fields, and URL fragments.
func (s *Secrets) Scrub(msg string) string {
	for _, f := range s.forms {
		msg = strings.ReplaceAll(msg, f, Masked)
	}
	return ScrubContexts(msg)
}

// ScrubContexts removes credentials found in credential contexts (see
// Secrets.Scrub), registered or not.
func ScrubContexts(msg string) string {
	msg = headerContext.ReplaceAllString(msg, "${1}${2}${3}"+Masked)
	msg = urlToken.ReplaceAllStringFunc(msg, URL)
	msg = userinfoToken.ReplaceAllStringFunc(msg, URL)
	return fieldContext.ReplaceAllString(msg, "${1}${2}"+Masked)
}
