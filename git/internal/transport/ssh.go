package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	gittransport "github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
)

// sshTransport runs git-upload-pack and git-receive-pack on a remote over
// SSH with one private key, checking host keys against known_hosts only.
// It is our own client rather than go-git's, which reads ~/.ssh/config and
// the proxy environment and cannot bound what it reads.
type sshTransport struct {
	addr   string // host:port
	path   string // repository path on the server
	config *ssh.ClientConfig
	proxy  *url.URL
}

// sshTimeout bounds the TCP connection and the SSH handshake.
const sshTimeout = 30 * time.Second

func newSSHTransport(ep *gittransport.Endpoint, auth git.AuthOptions, proxy *url.URL) (*sshTransport, error) {
	var signer ssh.Signer
	var err error
	if auth.Password != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(auth.Identity, []byte(auth.Password))
	} else {
		signer, err = ssh.ParsePrivateKey(auth.Identity)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("%w: the ssh identity needs a passphrase", git.ErrInvalidOptions)
		}
		// The parser's message never includes key material, but keep it generic.
		return nil, fmt.Errorf("%w: cannot parse the ssh identity (wrong passphrase or unsupported key)", git.ErrInvalidOptions)
	}
	hosts, err := ParseKnownHosts(auth.KnownHosts)
	if err != nil {
		return nil, err
	}
	if proxy != nil {
		switch proxy.Scheme {
		case "socks5", "socks5h", "http", "https":
		default:
			return nil, fmt.Errorf("%w: proxy scheme %q is not supported for ssh (socks5, socks5h, http, https)", git.ErrInvalidOptions, proxy.Scheme)
		}
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	addr := net.JoinHostPort(ep.Host, strconv.Itoa(port))
	return &sshTransport{
		addr: addr,
		path: ep.Path,
		config: &ssh.ClientConfig{
			User:              user,
			Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback:   hosts.HostKeyCallback(),
			HostKeyAlgorithms: hosts.Algorithms(addr),
			Timeout:           sshTimeout,
		},
		proxy: proxy,
	}, nil
}

// dial connects to the server, through the proxy if any, and runs the SSH
// handshake, all within ctx and sshTimeout.
func (t *sshTransport) dial(ctx context.Context) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, sshTimeout)
	defer cancel()
	conn, err := dialVia(ctx, t.proxy, t.addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.addr, t.config)
	if !stop() || err != nil {
		conn.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// session starts service ("git-upload-pack" or "git-receive-pack") on the
// repository.
func (t *sshTransport) session(ctx context.Context, service string) (*sshSession, error) {
	client, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	s := &sshSession{client: client, receive: service == gittransport.ReceivePackServiceName}
	s.stop = context.AfterFunc(ctx, func() { client.Close() })
	if err := s.start(service + " '" + strings.ReplaceAll(t.path, "'", `'\''`) + "'"); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sshSession is one git-upload-pack or git-receive-pack run. It implements
// go-git's UploadPackSession and ReceivePackSession.
type sshSession struct {
	client  *ssh.Client
	sess    *ssh.Session
	stop    func() bool
	receive bool

	stdin  io.WriteCloser
	stdout *bufio.Reader
	out    *switchableLimit
	stderr *firstBytes

	adv      *packp.AdvRefs
	packRun  bool
	closeMu  sync.Mutex
	isClosed bool
}

func (s *sshSession) start(command string) error {
	sess, err := s.client.NewSession()
	if err != nil {
		return err
	}
	s.sess = sess
	if s.stdin, err = sess.StdinPipe(); err != nil {
		return err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	s.out = &switchableLimit{r: stdout, left: MaxAdvertisement}
	s.stdout = bufio.NewReaderSize(s.out, 64<<10)
	s.stderr = &firstBytes{max: MaxErrorBody}
	sess.Stderr = s.stderr
	return sess.Start(command)
}

// AdvertisedReferences implements go-git's Session.
func (s *sshSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	return s.AdvertisedReferencesContext(context.Background())
}

// AdvertisedReferencesContext reads the server's reference advertisement,
// at most MaxAdvertisement bytes of it.
func (s *sshSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	if s.adv != nil {
		return s.adv, nil
	}
	ar := packp.NewAdvRefs()
	err := ar.Decode(s.stdout)
	s.out.unlimit()
	switch {
	case s.out.exceeded:
		return nil, ErrAdvertisementTooLarge
	case errors.Is(err, packp.ErrEmptyAdvRefs) && s.receive:
		err = nil // an empty repository can be pushed to
	case errors.Is(err, packp.ErrEmptyAdvRefs):
		return nil, gittransport.ErrEmptyRemoteRepository
	case err != nil:
		var errLine *pktline.ErrorLine
		if errors.As(err, &errLine) {
			return nil, fmt.Errorf("remote: %s", errLine.Text)
		}
		return nil, s.remoteError(err)
	}
	if !s.receive && ar.IsEmpty() {
		return nil, gittransport.ErrEmptyRemoteRepository
	}
	s.adv = ar
	return ar, nil
}

// remoteError explains a failed read with what the server printed on
// stderr, if anything.
func (s *sshSession) remoteError(err error) error {
	if msg := s.stderr.firstLine(); msg != "" {
		return fmt.Errorf("%w: remote: %s", err, msg)
	}
	return err
}

// UploadPack implements go-git's UploadPackSession: it sends the request
// (wants, shallows, depth, haves, done) and returns the response, whose
// Close ends the session.
func (s *sshSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	if req.IsEmpty() {
		return nil, gittransport.ErrEmptyUploadPackRequest
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.AdvertisedReferencesContext(ctx); err != nil {
		return nil, err
	}
	s.packRun = true
	var buf bytes.Buffer
	if err := req.UploadRequest.Encode(&buf); err != nil {
		return nil, err
	}
	if err := req.UploadHaves.Encode(&buf, true); err != nil {
		return nil, err
	}
	if err := pktline.NewEncoder(&buf).EncodeString("done\n"); err != nil {
		return nil, err
	}
	if _, err := s.stdin.Write(buf.Bytes()); err != nil {
		return nil, s.remoteError(err)
	}
	res := packp.NewUploadPackResponse(req)
	if err := res.Decode(sessionReader{s}); err != nil {
		return nil, s.remoteError(err)
	}
	return res, nil
}

// ReceivePack implements go-git's ReceivePackSession: it sends the
// commands and the pack, and returns the server's report.
func (s *sshSession) ReceivePack(ctx context.Context, req *packp.ReferenceUpdateRequest) (*packp.ReportStatus, error) {
	if _, err := s.AdvertisedReferencesContext(ctx); err != nil {
		return nil, err
	}
	s.packRun = true
	if err := req.Encode(s.stdin); err != nil {
		return nil, s.remoteError(err)
	}
	if err := s.stdin.Close(); err != nil {
		return nil, err
	}
	if !req.Capabilities.Supports(capability.ReportStatus) {
		return nil, s.sess.Wait()
	}
	var r io.Reader = s.stdout
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		r = sideband.NewDemuxer(sideband.Sideband64k, r)
	case req.Capabilities.Supports(capability.Sideband):
		r = sideband.NewDemuxer(sideband.Sideband, r)
	}
	report := packp.NewReportStatus()
	if err := report.Decode(r); err != nil {
		return nil, s.remoteError(err)
	}
	return report, report.Error()
}

// Close ends the session: after a bare advertisement (ls-remote), with the
// flush that tells the server nothing is wanted.
func (s *sshSession) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.isClosed {
		return nil
	}
	s.isClosed = true
	if s.sess != nil && !s.packRun && s.stdin != nil {
		_, _ = s.stdin.Write(pktline.FlushPkt)
		_ = s.stdin.Close()
	}
	if s.sess != nil {
		_ = s.sess.Close()
	}
	s.stop()
	return s.client.Close()
}

// sessionReader reads the session's output and closes the session.
type sessionReader struct{ s *sshSession }

func (r sessionReader) Read(p []byte) (int, error) { return r.s.stdout.Read(p) }
func (r sessionReader) Close() error               { return r.s.Close() }

// switchableLimit reads at most left bytes until unlimit is called (it
// bounds the reference advertisement; the pack that follows is bounded by
// the storer).
type switchableLimit struct {
	r        io.Reader
	left     int64
	off      bool
	exceeded bool
}

func (l *switchableLimit) Read(p []byte) (int, error) {
	if l.off {
		return l.r.Read(p)
	}
	if l.left <= 0 {
		l.exceeded = true
		return 0, ErrAdvertisementTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *switchableLimit) unlimit() { l.off = true }

// firstBytes keeps the first max bytes written to it and drops the rest.
type firstBytes struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (f *firstBytes) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if room := f.max - len(f.buf); room > 0 {
		f.buf = append(f.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// firstLine returns the first line that is not empty.
func (f *firstBytes) firstLine() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range strings.Split(string(f.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
