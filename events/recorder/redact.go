package recorder

import "regexp"

// urlPassword finds the password of a URL's userinfo: scheme://user:password@.
var urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@`)

// redactURLs masks URL passwords, as url.URL.Redacted does, anywhere in s.
func redactURLs(s string) string {
	if !urlPassword.MatchString(s) {
		return s
	}
	return urlPassword.ReplaceAllString(s, "${1}***@")
}
