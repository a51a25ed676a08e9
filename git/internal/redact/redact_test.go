package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:tok@host/r.git":                    "https://host/r.git",
		"https://tok@host/r.git":                         "https://host/r.git",
		"HTTPS://user:tok@host/r.git":                    "HTTPS://host/r.git",
		"ssh://git:pw@host/r.git":                        "ssh://git@host/r.git",
		"ssh://git@host:2222/r.git":                      "ssh://git@host:2222/r.git",
		"https://host/r.git":                             "https://host/r.git",
		"git@github.com:org/r.git":                       "git@github.com:org/r.git",
		"user:pw@host:repo":                              "user@host:repo",
		"https:/user:pw@host/r":                          "https:/host/r",
		"http:user:pw@host/x":                            "http:host/x",
		"https://u:p@ss/w@host/r":                        "https://host/r",
		"https://u:p#w@host/r":                           "https://host/r",
		"https://u:p?w@host/r":                           "https://host/r",
		"https://host/r.git?private_token=abc":           "https://host/r.git?private_token=***",
		"https://host/r.git?access_token=abc&ref=main":   "https://host/r.git?access_token=***&ref=main",
		"https://host/r?X-Amz-Signature=ab&X-Amz-Date=1": "https://host/r?X-Amz-Signature=***&X-Amz-Date=1",
		"https://host/r?sig=a&sv=2020":                   "https://host/r?sig=***&sv=2020",
		"https://host/r?v=ghp1234567890abcdefABCDEF":     "https://host/r?v=***",
		"https://host/r?ghp1234567890abcdefABCDEF":       "https://host/r?***",
		"https://host/r.git#tok3n":                       "https://host/r.git#***",
		"https://host/r.git#":                            "https://host/r.git#",
		"https://host/r.git?service=git-upload-pack":     "https://host/r.git?service=git-upload-pack",
		"https://user:pw@host/r?token=x#frag":            "https://host/r?token=***#***",
		"socks5://proxyuser:proxypass@proxy:1080":        "socks5://proxy:1080",
		"":          "",
		"not a url": "not a url",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	var s Secrets
	s.AddBasic("alice", "pw") // a short password: only in credential contexts
	s.Add("tok-en/with+special")
	s.AddBasic("ghp_0123456789abcdefghij", "")
	basic := base64.StdEncoding.EncodeToString([]byte("alice:pw"))
	tokenUser := base64.StdEncoding.EncodeToString([]byte("ghp_0123456789abcdefghij:"))
	msg := strings.Join([]string{
		"GET /r.git/info/refs HTTP/1.1",
		"Authorization: Basic " + basic,
		"authorization: Bearer ab",
		`map[Authorization:[Basic ` + tokenUser + `]]`,
		`{"Authorization": "token xy"}`,
		"raw tok-en/with+special escaped " + url.QueryEscape("tok-en/with+special") + " " + url.PathEscape("tok-en/with+special"),
		"b64 " + basic + " unpadded " + base64.RawStdEncoding.EncodeToString([]byte("alice:pw")),
		"the token ghp_0123456789abcdefghij as a user name",
		"url https://alice:pw@host/r.git?private_token=zz#frag and scp alice:pw@host:r.git",
		"form password=pw&access_token=q",
		`json "password": "pw"`,
	}, "\n")
	got := s.Scrub(msg)
	for _, leak := range []string{basic, tokenUser, "Bearer ab", "token xy", "tok-en", url.QueryEscape("tok-en/with+special"),
		"ghp_", "alice:pw", "=pw", "=zz", "#frag", "=q", `"pw"`, base64.RawStdEncoding.EncodeToString([]byte("alice:pw"))} {
		if strings.Contains(got, leak) {
			t.Errorf("scrubbed message still holds %q:\n%s", leak, got)
		}
	}
	for _, kept := range []string{"Authorization: Basic ***", "GET /r.git/info/refs HTTP/1.1", "https://host/r.git?private_token=***#***", "alice@host:r.git"} {
		if !strings.Contains(got, kept) {
			t.Errorf("scrubbed message lost %q:\n%s", kept, got)
		}
	}
}

// queryCredential reports whether before ends a URL inside the value of a
// credential-named query parameter ("…?a=1&token=").
func queryCredential(before string) bool {
	q := before[strings.IndexByte(before, '?')+1 : len(before)-1]
	name := q[strings.LastIndexByte(q, '&')+1:]
	return !strings.Contains(name, "=") && CredentialName(name)
}

// FuzzURL checks that URL never panics and that a credential placed in any
// URL shape never survives it: a password (after ":" in a userinfo), a
// whole http(s) userinfo, a credential-named query value, a fragment.
func FuzzURL(f *testing.F) {
	for _, s := range []string{"https://%s@host/r", "ssh://git:%s@h/r", "u:%s@h:r", "https:/u:%s@h", "http:u:%s@h/x",
		"https://h/r?token=%s", "https://h/r#%s", "https://u:%s@h/p@q/r"} {
		f.Add(s, "s3cr3t-Passw0rd")
	}
	f.Fuzz(func(t *testing.T, shape, secret string) {
		_ = URL(shape)
		if strings.Count(shape, "%s") != 1 || len(secret) < 8 || strings.ContainsAny(secret, "@:/?#&= \t\n%") {
			return
		}
		in := strings.Replace(shape, "%s", secret, 1)
		before, after, _ := strings.Cut(in, secret)
		// rest is what precedes the secret after the scheme, if any.
		rest, ssh := before, true
		if c := strings.IndexByte(before, ':'); c > 0 && urlSchemes[strings.ToLower(before[:c])] {
			rest, ssh = strings.TrimLeft(before[c+1:], "/"), strings.Contains(strings.ToLower(before[:c]), "ssh")
		}
		inUserinfo := strings.Contains(after, "@") && !strings.ContainsAny(rest, "@?#")
		credential := inUserinfo && strings.HasSuffix(rest, ":") && !strings.Contains(rest[:len(rest)-1], ":") ||
			inUserinfo && !ssh && !strings.Contains(rest, "/") ||
			strings.HasSuffix(before, "#") && !strings.Contains(before[:len(before)-1], "#") ||
			strings.HasSuffix(before, "=") && strings.Contains(before, "?") && !strings.ContainsAny(before, "#@") &&
				queryCredential(before)
		if credential && strings.Contains(URL(in), secret) {
			t.Fatalf("URL(%q) = %q keeps the credential", in, URL(in))
		}
	})
}

// FuzzScrub checks that a registered credential never survives Scrub, in
// any message a server could send around it.
func FuzzScrub(f *testing.F) {
	f.Add("Authorization: Basic %s", "alice", "s3cret")
	f.Add("https://%s@host/r", "tok", "")
	f.Add("%s", "u", "p4ssw0rd")
	f.Fuzz(func(t *testing.T, msg, user, password string) {
		var s Secrets
		s.AddBasic(user, password)
		_ = s.Scrub(msg)
		for _, c := range user + password {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return
			}
		}
		for _, secret := range []string{password, base64.StdEncoding.EncodeToString([]byte(user + ":" + password))} {
			if len(secret) < minSecret {
				continue
			}
			in := strings.ReplaceAll(msg, "%s", secret)
			if got := s.Scrub(in); strings.Contains(got, secret) {
				t.Fatalf("Scrub(%q) = %q keeps %q", in, got, secret)
			}
		}
	})
}
