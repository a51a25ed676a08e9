package gittest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// gitProgram is the git executable every server runs: found once on PATH.
// The git CLI is a requirement of this package (it is what serves).
var gitProgram = sync.OnceValues(func() (string, error) {
	p, err := exec.LookPath("git")
	if err != nil {
		return "", fmt.Errorf("the git program is required to serve repositories: %w", err)
	}
	return p, nil
})

// serverConfig is the git configuration every program the server runs
// sees, given through GIT_CONFIG_COUNT so no file outside the server's
// folder is read or written.
func (s *Server) serverConfig() [][2]string {
	receive := "true"
	if s.cfg.readOnly {
		receive = "false"
	}
	return [][2]string{
		// Serve a want by id when a reference leads to it, as GitHub and
		// GitLab do; a commit no reference reaches is "not our ref".
		{"uploadpack.allowReachableSHA1InWant", "true"},
		{"uploadpack.allowFilter", "true"},
		{"http.uploadpack", "true"},
		// Authentication is checked in front of http-backend (which would
		// otherwise accept pushes only with REMOTE_USER set).
		{"http.receivepack", receive},
		{"receive.advertisePushOptions", "true"},
		{"receive.autogc", "false"},
		{"gc.auto", "0"},
		{"core.hooksPath", os.DevNull},
	}
}

// gitEnv is the environment of a git program the server runs: no system
// or user configuration, the server's configuration, and extra.
func (s *Server) gitEnv(extra ...string) []string {
	env := []string{
		"HOME=" + s.root,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	}
	cfg := s.serverConfig()
	env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(cfg)))
	for i, kv := range cfg {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return append(env, extra...)
}

// runGit runs git in dir with the server's environment and returns its
// output, or an error holding its stderr.
func (s *Server) runGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.git, args...)
	cmd.Dir = dir
	path := os.Getenv("PATH")
	cmd.Env = s.gitEnv("PATH=" + path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// logWriter passes what a git program prints on stderr to the test log,
// line by line, until the server is closed.
type logWriter struct {
	s    *Server
	what string
	mu   sync.Mutex
	buf  []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := w.buf[:i]; !progress(line) {
			w.s.logf("gittest: %s: %s", w.what, line)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 { // a line without end: log it in pieces
		w.s.logf("gittest: %s: %s", w.what, w.buf)
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// progress reports a progress line of pack-objects ("Counting objects: …"),
// which is left out of the log.
func progress(line []byte) bool {
	if bytes.IndexByte(line, '\r') >= 0 {
		return true
	}
	for _, p := range []string{"Enumerating objects", "Counting objects", "Compressing objects", "Total "} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}
