package fetch_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/fetch"
)

// TestCredentialsNeverInErrors: whatever form an artifact URL carries a
// credential in, and however the server echoes the request back, the
// error names the URL without it.
func TestCredentialsNeverInErrors(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-T0ken"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.URL.String()+" "+r.Header.Get("Authorization"))
		http.Error(w, fmt.Sprintf("you sent %s %s with %q", r.Method, r.URL, r.Header), http.StatusForbidden)
	}))
	defer echo.Close()
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/x.tar.gz?token="+secret, http.StatusFound))
	defer redirect.Close()
	host := strings.TrimPrefix(echo.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	digest := artifact.Digest("sha256:" + strings.Repeat("a", 64))
	urls := map[string]string{
		"user info":           "http://user:" + secret + "@" + host + "/a.tar.gz",
		"token as user name":  "http://" + secret + "@" + host + "/a.tar.gz",
		"escaped user info":   "http://user:" + url.QueryEscape(secret+"/!") + "@" + host + "/a.tar.gz",
		"query":               echo.URL + "/a.tar.gz?access_token=" + secret,
		"fragment":            echo.URL + "/a.tar.gz#" + secret,
		"opaque":              "http:user:" + secret + "@" + host + "/a.tar.gz",
		"invalid":             "http://user:" + secret + "@[::1/a.tar.gz",
		"redirected":          redirect.URL + "/a.tar.gz",
		"signed, unreachable": "http://user:" + secret + "@" + closed + "/x?X-Amz-Signature=" + secret,
		"bad port":            "http://user:" + secret + "@" + host + ":notaport/x",
	}
	f := fetch.New(fetch.WithRetries(0))
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := f.Fetch(context.Background(), artifact.Artifact{URL: u, Digest: digest}, filepath.Join(t.TempDir(), "dst"))
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			basic := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
			for _, form := range []string{secret, url.QueryEscape(secret), basic, "user:"} {
				if strings.Contains(err.Error(), form) {
					t.Errorf("error carries the credential (%q): %v", form, err)
				}
			}
		})
	}
}
