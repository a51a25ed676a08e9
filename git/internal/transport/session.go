package transport

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	gittransport "github.com/go-git/go-git/v5/plumbing/transport"
)

// UploadSession is an upload-pack session that also tells which
// capabilities the server advertised, including those go-git's HTTP client
// hides from its advertisement (thin-pack, multi_ack): we fix thin packs
// ourselves.
type UploadSession struct {
	gittransport.UploadPackSession
	capture *capture // HTTP: the start of the advertisement
	caps    *capability.List
}

// OpenUpload opens an upload-pack (fetch, ls-remote) session.
func (s *Settings) OpenUpload(ctx context.Context) (*UploadSession, error) {
	sess, err := s.UploadPack(ctx)
	if err != nil {
		return nil, err
	}
	u := &UploadSession{UploadPackSession: sess}
	if s.http != nil {
		u.capture = &capture{}
	}
	return u, nil
}

// AdvertisedReferencesContext reads the advertisement and records the
// server's own capability list.
func (u *UploadSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	if u.capture != nil {
		ctx = context.WithValue(ctx, captureKey{}, u.capture)
	}
	ar, err := u.UploadPackSession.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, err
	}
	if u.caps == nil {
		u.caps = ar.Capabilities
		if u.capture != nil {
			if raw := u.capture.capabilities(); raw != nil {
				u.caps = raw
			}
		}
	}
	return ar, nil
}

// Capabilities returns what the server advertised, once
// AdvertisedReferencesContext has run.
func (u *UploadSession) Capabilities() *capability.List {
	if u.caps == nil {
		return capability.NewList()
	}
	return u.caps
}

type captureKey struct{}

// capture keeps the first bytes of a reference advertisement.
type capture struct {
	mu  sync.Mutex
	buf []byte
}

// maxCapture is enough for the first reference line, which carries the
// capabilities (a pkt-line is at most 65520 bytes).
const maxCapture = 65536 + 512

func (c *capture) Write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxCapture - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
}

// capabilities parses the capability list on the first reference line:
// "<hash> <name>\x00<capabilities>\n".
func (c *capture) capabilities() *capability.List {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := bytes.IndexByte(c.buf, 0)
	if i < 0 {
		return nil
	}
	line := c.buf[i+1:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	} else {
		return nil
	}
	l := capability.NewList()
	if err := l.Decode(line); err != nil {
		return nil
	}
	return l
}

// teeBody copies what is read of a body into a capture.
type teeBody struct {
	io.ReadCloser
	c *capture
}

func (t teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		t.c.Write(p[:n])
	}
	return n, err
}
