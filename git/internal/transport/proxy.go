package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"golang.org/x/net/proxy"
)

// dialVia connects to addr directly, or through a SOCKS5 proxy or an HTTP
// proxy (CONNECT) when p is set. The environment's proxy settings are not
// read: a proxy for SSH is given explicitly.
func dialVia(ctx context.Context, p *url.URL, addr string) (net.Conn, error) {
	var d net.Dialer
	if p == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	switch p.Scheme {
	case "socks5", "socks5h":
		pd, err := proxy.FromURL(p, &d)
		if err != nil {
			return nil, err
		}
		return pd.(proxy.ContextDialer).DialContext(ctx, "tcp", addr)
	}
	return dialCONNECT(ctx, &d, p, addr)
}

// dialCONNECT opens a tunnel to addr through the HTTP(S) proxy p.
func dialCONNECT(ctx context.Context, d *net.Dialer, p *url.URL, addr string) (net.Conn, error) {
	proxyAddr := p.Host
	if p.Port() == "" {
		port := "80"
		if p.Scheme == "https" {
			port = "443"
		}
		proxyAddr = net.JoinHostPort(p.Hostname(), port)
	}
	conn, err := d.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, err
	}
	if p.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: p.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if p.User != nil {
		pw, _ := p.User.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(p.User.Username()+":"+pw)))
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy refused the tunnel: %s", res.Status)
	}
	// The server may speak first (SSH does): what was read past the
	// proxy's answer belongs to the tunnel.
	return bufferedConn{Conn: conn, r: br}, nil
}

// bufferedConn reads through the reader that read the proxy's answer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
