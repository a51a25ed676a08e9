package buckettest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// authFailure is why a request was refused: an S3 error code, status and
// message.
type authFailure struct {
	status  int
	code    string
	message string
	region  string
}

// verifySigV4 checks the AWS Signature Version 4 Authorization header of
// r against the server's credentials, as S3 does: the access key, the
// region and service of the scope, the date, the session token, and the
// signature over the canonical request made of the method, the path, the
// query, the signed headers and the payload hash the client declared. The
// payload itself is not hashed (the harness serves reads; uploads go
// through the Server's helpers).
func (s *Server) verifySigV4(r *http.Request) *authFailure {
	denied := func(status int, code, msg string) *authFailure {
		return &authFailure{status: status, code: code, message: msg}
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return denied(http.StatusForbidden, "AccessDenied", "presigned requests are not supported by buckettest")
		}
		return denied(http.StatusForbidden, "AccessDenied", "Access Denied")
	}
	const algorithm = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return denied(http.StatusBadRequest, "InvalidArgument", "unsupported authorization type")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return denied(http.StatusBadRequest, "AuthorizationHeaderMalformed", "the authorization header is malformed")
	}
	accessKey, day, region, service := scope[0], scope[1], scope[2], scope[3]
	if subtle.ConstantTimeCompare([]byte(accessKey), []byte(s.cfg.accessKey)) != 1 {
		return denied(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	}
	if region != s.cfg.region {
		f := denied(http.StatusBadRequest, "AuthorizationHeaderMalformed", "the region '"+region+"' is wrong; expecting '"+s.cfg.region+"'")
		f.region = s.cfg.region
		return f
	}
	if service != "s3" {
		return denied(http.StatusBadRequest, "AuthorizationHeaderMalformed", "the service is wrong; expecting 's3'")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || t.Format("20060102") != day {
		return denied(http.StatusForbidden, "AccessDenied", "the request date is missing or does not match the credential scope")
	}
	if s.cfg.sessionToken != "" || r.Header.Get("X-Amz-Security-Token") != "" {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Amz-Security-Token")), []byte(s.cfg.sessionToken)) != 1 {
			return denied(http.StatusBadRequest, "InvalidToken", "The provided token is malformed or otherwise invalid.")
		}
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") {
		return denied(http.StatusBadRequest, "AuthorizationHeaderMalformed", "the host header must be signed")
	}
	canonical := strings.Join([]string{
		r.Method,
		encodePath(r.URL.Path),
		canonicalQuery(r.URL.Query()),
		canonicalHeaders(r, signed),
		fields["SignedHeaders"],
		r.Header.Get("X-Amz-Content-Sha256"),
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{algorithm, amzDate, strings.Join(scope[1:], "/"), hex.EncodeToString(sum[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+s.cfg.secretKey), day)
	for _, part := range []string{region, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(fields["Signature"])) != 1 {
		return denied(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// encodePath is the canonical URI: every byte but the unreserved
// characters and '/' percent-encoded.
func encodePath(p string) string {
	if p == "" {
		return "/"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// canonicalQuery sorts the query by name and value, each URI-encoded.
func canonicalQuery(q url.Values) string {
	q.Del("X-Amz-Signature")
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// canonicalHeaders lists the signed headers, lower-case, with their
// values trimmed and inner spaces collapsed, several values joined by
// commas. Go's server moves Host and Content-Length out of r.Header.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			vals = slices.Clone(r.Header.Values(name))
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}
