package gittest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// sshServer serves git-upload-pack and git-receive-pack exec requests.
type sshServer struct {
	srv      *Server
	ln       net.Listener
	config   *ssh.ServerConfig
	hostKey  ssh.PublicKey
	mu       sync.Mutex
	keys     [][]byte
	wg       sync.WaitGroup
	shutdown chan struct{}
}

func startSSH(s *Server) (*sshServer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	ss := &sshServer{srv: s, hostKey: signer.PublicKey(), shutdown: make(chan struct{})}
	ss.config = &ssh.ServerConfig{PublicKeyCallback: ss.authorize}
	ss.config.AddHostKey(signer)
	if ss.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	ss.wg.Add(1)
	go ss.accept()
	return ss, nil
}

func (ss *sshServer) authorize(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, k := range ss.keys {
		if bytes.Equal(k, key.Marshal()) {
			return &ssh.Permissions{}, nil
		}
	}
	return nil, errors.New("unknown key")
}

func (ss *sshServer) close() {
	close(ss.shutdown)
	ss.ln.Close()
	ss.wg.Wait()
}

func (ss *sshServer) accept() {
	defer ss.wg.Done()
	for {
		conn, err := ss.ln.Accept()
		if err != nil {
			return
		}
		ss.wg.Add(1)
		go func() {
			defer ss.wg.Done()
			ss.serveConn(conn)
		}()
	}
}

func (ss *sshServer) serveConn(conn net.Conn) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, ss.config)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		ss.serveSession(ch, chReqs)
	}
}

func (ss *sshServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "env" {
			_ = req.Reply(true, nil)
			continue
		}
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		status := ss.exec(ch, payload.Command)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], status)
		_, _ = ch.SendRequest("exit-status", false, b[:])
		return
	}
}

// exec runs "git-upload-pack '/repo.git'" or "git-receive-pack …" over the
// channel: advertisement, then one request/response exchange (the SSH
// transport is stateful, but go-git's client sends everything at once).
func (ss *sshServer) exec(ch ssh.Channel, command string) uint32 {
	service, arg, ok := strings.Cut(command, " ")
	if !ok || (service != "git-upload-pack" && service != "git-receive-pack") {
		fmt.Fprintf(ch.Stderr(), "unsupported command\n")
		return 1
	}
	name := strings.Trim(strings.TrimSpace(arg), "'\"/")
	if service == "git-receive-pack" && ss.srv.cfg.readOnly {
		fmt.Fprintf(ch.Stderr(), "read-only\n")
		return 1
	}
	lock := ss.srv.lock(name)
	if service == "git-receive-pack" {
		lock.Lock()
		defer lock.Unlock()
	} else {
		lock.RLock()
		defer lock.RUnlock()
	}
	st, err := ss.srv.open(name)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "%v\n", err)
		return 1
	}
	ar, err := advertise(st, service)
	if err != nil {
		return 1
	}
	if err := ar.Encode(ch); err != nil {
		return 1
	}
	if service == "git-receive-pack" {
		if err := receivePack(st, ch, ch); err != nil && !errors.Is(err, io.EOF) {
			return 1
		}
		return 0
	}
	req, err := parseUploadRequest(ch)
	if err != nil {
		return 0 // the client hung up after the advertisement (ls-remote)
	}
	req.done = true
	if err := uploadPack(contextFor(ss.shutdown), st, req, ch); err != nil {
		return 1
	}
	return 0
}

// SSHURL returns the ssh:// URL of a repository (WithSSH).
func (s *Server) SSHURL(name string) string {
	if s.ssh == nil {
		s.tb.Fatalf("gittest: server started without WithSSH")
	}
	return "ssh://git@" + s.ssh.ln.Addr().String() + "/" + name
}

// KnownHosts returns the known_hosts line of the SSH host key.
func (s *Server) KnownHosts() []byte {
	if s.ssh == nil {
		s.tb.Fatalf("gittest: server started without WithSSH")
	}
	addr := s.ssh.ln.Addr().(*net.TCPAddr)
	return []byte(fmt.Sprintf("[%s]:%d %s", addr.IP, addr.Port, ssh.MarshalAuthorizedKey(s.ssh.hostKey)))
}

// AuthorizeKey lets key authenticate over SSH.
func (s *Server) AuthorizeKey(key ssh.PublicKey) {
	if s.ssh == nil {
		s.tb.Fatalf("gittest: server started without WithSSH")
	}
	s.ssh.mu.Lock()
	defer s.ssh.mu.Unlock()
	s.ssh.keys = append(s.ssh.keys, key.Marshal())
}

// contextFor returns a context cancelled when done closes.
func contextFor(done <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-done
		cancel()
	}()
	return ctx
}
