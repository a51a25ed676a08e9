// Package redact removes credentials from URLs and messages.
package redact

import (
	"strings"
)

// Masked replaces a credential wherever one is removed.
const Masked = "***"

// urlSchemes are the schemes URL reads as "scheme:", so that a
// scp-like "user:password@host:path" is not mistaken for one.
var urlSchemes = map[string]bool{
	"http": true, "https": true, "ssh": true, "git": true, "git+ssh": true, "ssh+git": true,
	"file": true, "ftp": true, "ftps": true, "socks5": true, "socks5h": true,
}

// URL returns remote without the credentials it may carry: userinfo
// (all of it for http(s), the password for ssh and scp-like remotes),
// query values that name or look like a credential, and the fragment. See
// git.RedactURL, which documents it for callers.
func URL(remote string) string {
	rest := remote
	var out strings.Builder
	ssh := false
	if i := strings.IndexByte(rest, ':'); i > 0 && urlSchemes[strings.ToLower(rest[:i])] {
		scheme := strings.ToLower(rest[:i])
		ssh = strings.Contains(scheme, "ssh")
		out.WriteString(rest[:i+1])
		rest = rest[i+1:]
		j := 0
		for j < len(rest) && rest[j] == '/' {
			j++
		}
		out.WriteString(rest[:j])
		rest = rest[j:]
	} else {
		ssh = true // scp-like [user@]host:path, or a bare path
	}
	// The userinfo ends at the last "@": a password may hold "/", "?" or
	// "#" unescaped, and cutting at the first of those would leave a piece
	// of it in place. A path holding "@" loses its start instead, which
	// leaks nothing.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user := rest[:at]
		rest = rest[at+1:]
		if ssh {
			name, _, _ := strings.Cut(user, ":")
			if !strings.ContainsAny(name, "/?#") {
				out.WriteString(name + "@")
			}
		}
	}
	rest, fragment, hasFragment := strings.Cut(rest, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	out.WriteString(rest)
	if hasQuery {
		out.WriteString("?" + redactQuery(query))
	}
	if hasFragment && fragment != "" {
		out.WriteString("#" + Masked)
	} else if hasFragment {
		out.WriteString("#")
	}
	return out.String()
}

// redactQuery masks the values of a query string that carry a credential.
func redactQuery(q string) string {
	params := strings.Split(q, "&")
	for i, p := range params {
		name, value, hasValue := strings.Cut(p, "=")
		switch {
		case !hasValue && LooksLikeSecret(name):
			params[i] = Masked
		case hasValue && value != "" && (CredentialName(name) || LooksLikeSecret(value)):
			params[i] = name + "=" + Masked
		}
	}
	return strings.Join(params, "&")
}

// credentialWords are the parts of a parameter or field name that mark its
// value as a credential.
var credentialWords = []string{
	"token", "secret", "passw", "pwd", "pass", "key", "auth", "credential",
	"signature", "sig", "session", "code", "jwt", "bearer", "cookie", "private",
}

// CredentialName reports whether a query parameter or field name (such as
// "private_token", "access_token", "X-Amz-Signature", "sig", "api_key",
// "password") names a credential. It matches generously: a false positive
// only masks a harmless value.
func CredentialName(name string) bool {
	n := strings.ToLower(name)
	if n == "" {
		return false
	}
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// LooksLikeSecret reports whether a value has the shape of a generated
// credential: at least 16 characters from the alphabets tokens use
// (letters, digits, "-", "_", ".", "~", "+", "/", "=", "%"), with both
// letters and digits.
func LooksLikeSecret(v string) bool {
	if len(v) < 16 {
		return false
	}
	letter, digit := false, false
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9':
			digit = true
		case strings.ContainsRune("-_.~+/=%", r):
		default:
			return false
		}
	}
	return letter && digit
}
