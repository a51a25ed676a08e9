package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	gittransport "github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/gitopskit/kit/git"
)

// httpTransport is go-git's smart-HTTP client on an http.Client of our own:
// TLS roots and client certificate, proxy, and bounded response bodies.
type httpTransport struct {
	transport gittransport.Transport
	auth      gittransport.AuthMethod
}

func newHTTPTransport(auth git.AuthOptions, proxy *url.URL) (*httpTransport, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(auth.CA) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(auth.CA) {
			return nil, fmt.Errorf("%w: ca.crt holds no PEM certificate", git.ErrInvalidOptions)
		}
		tc.RootCAs = pool
	}
	if len(auth.Cert) > 0 {
		cert, err := tls.X509KeyPair(auth.Cert, auth.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: tls.crt and tls.key do not make a key pair", git.ErrInvalidOptions)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   30 * time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if proxy != nil {
		base.Proxy = http.ProxyURL(proxy)
	}
	client := &http.Client{Transport: boundedBodies{base}}
	t := &httpTransport{
		transport: githttp.NewClientWithOptions(client, &githttp.ClientOptions{RedirectPolicy: githttp.FollowInitialRedirects}),
	}
	switch {
	case auth.BearerToken != "":
		t.auth = &githttp.TokenAuth{Token: auth.BearerToken}
	case auth.Username != "" || auth.Password != "":
		t.auth = &githttp.BasicAuth{Username: auth.Username, Password: auth.Password}
	}
	return t, nil
}

// boundedBodies bounds what is read of a response: the body of an answer
// that is not a success to MaxErrorBody bytes (go-git reads such a body
// whole into its error), a reference advertisement (GET …/info/refs) to
// MaxAdvertisement bytes. A pack (POST …/git-upload-pack) is bounded by
// the storer it streams into.
type boundedBodies struct{ base http.RoundTripper }

func (b boundedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := b.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case res.StatusCode < 200 || res.StatusCode > 299:
		res.Body = &limitedBody{body: res.Body, left: MaxErrorBody}
	case req.Method == http.MethodGet:
		res.Body = &limitedBody{body: res.Body, left: MaxAdvertisement, fail: true}
		if c, ok := req.Context().Value(captureKey{}).(*capture); ok {
			res.Body = teeBody{ReadCloser: res.Body, c: c}
		}
	}
	return res, nil
}

// ErrAdvertisementTooLarge is returned when a reference advertisement
// passes MaxAdvertisement.
var ErrAdvertisementTooLarge = fmt.Errorf("%w: the reference advertisement is larger than %d bytes", git.ErrSizeLimit, MaxAdvertisement)

// limitedBody ends a body after left bytes: quietly (an error message is
// cut short) or, with fail, with ErrAdvertisementTooLarge.
type limitedBody struct {
	body io.ReadCloser
	left int64
	fail bool
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		if l.fail {
			// Anything more than the bound is an error, not an end.
			var one [1]byte
			if n, _ := l.body.Read(one[:]); n > 0 {
				return 0, ErrAdvertisementTooLarge
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.body.Read(p)
	l.left -= int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

func (l *limitedBody) Close() error { return l.body.Close() }
