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
	"os"
	"os/exec"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// sshServer serves git-upload-pack and git-receive-pack exec requests.
type sshServer struct {
	srv     *Server
	ln      net.Listener
	config  *ssh.ServerConfig
	hostKey ssh.PublicKey
	mu      sync.Mutex
	keys    [][]byte
	wg      sync.WaitGroup
	conns   map[net.Conn]bool
	ctx     context.Context // ends when the server closes
	cancel  context.CancelFunc
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
	ss := &sshServer{srv: s, hostKey: signer.PublicKey(), conns: map[net.Conn]bool{}}
	ss.ctx, ss.cancel = context.WithCancel(context.Background())
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
	ss.cancel()
	ss.ln.Close()
	ss.mu.Lock()
	for c := range ss.conns {
		c.Close()
	}
	ss.mu.Unlock()
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
	ss.mu.Lock()
	if ss.ctx.Err() != nil {
		ss.mu.Unlock()
		conn.Close()
		return
	}
	ss.conns[conn] = true
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		delete(ss.conns, conn)
		ss.mu.Unlock()
		conn.Close()
	}()
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
	var protocol string // GIT_PROTOCOL, as a git client sends it
	for req := range reqs {
		switch req.Type {
		case "env":
			var env struct{ Name, Value string }
			ok := ssh.Unmarshal(req.Payload, &env) == nil && env.Name == "GIT_PROTOCOL"
			if ok {
				protocol = env.Value
			}
			_ = req.Reply(ok, nil)
			continue
		case "exec":
		default:
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		status := ss.exec(ch, payload.Command, protocol)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], status)
		_, _ = ch.SendRequest("exit-status", false, b[:])
		return
	}
}

// exec runs "git-upload-pack '/repo.git'" or "git-receive-pack …" over the
// channel with the git program itself, and returns its exit status.
func (ss *sshServer) exec(ch ssh.Channel, command, protocol string) uint32 {
	service, arg, ok := strings.Cut(command, " ")
	if service == "git" { // "git upload-pack '/repo.git'"
		service, arg, ok = strings.Cut(arg, " ")
		service = "git-" + service
	}
	if !ok || (service != "git-upload-pack" && service != "git-receive-pack") {
		fmt.Fprintf(ch.Stderr(), "unsupported command\n")
		return 1
	}
	name := strings.TrimPrefix(strings.Trim(strings.TrimSpace(arg), "'\""), "/")
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
	dir, err := ss.srv.repositoryDir(name)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "%v\n", err)
		return 1
	}
	args := []string{strings.TrimPrefix(service, "git-")}
	if service == "git-upload-pack" {
		args = append(args, "--strict")
	}
	ctx, cancel := context.WithCancel(ss.ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, ss.srv.git, append(args, dir)...)
	cmd.Dir = dir
	var extra []string
	if protocol != "" {
		extra = append(extra, "GIT_PROTOCOL="+protocol)
	}
	cmd.Env = ss.srv.gitEnv(append(extra, "PATH="+os.Getenv("PATH"))...)
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "%v\n", err)
		return 1
	}
	// The copy ends when the client closes its side or the channel is
	// closed after the program exits.
	go func() {
		_, _ = io.Copy(stdin, ch)
		stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() > 0 {
			return uint32(cmd.ProcessState.ExitCode())
		}
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
