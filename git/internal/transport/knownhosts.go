package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
)

// maxKnownHosts bounds the known_hosts data.
const maxKnownHosts = 1 << 20

// KnownHosts is a parsed known_hosts file. Matching is strict: a host with
// no entry, or whose key is not listed, is rejected. @revoked entries reject
// their key; @cert-authority entries are not supported and ignored.
type KnownHosts struct {
	entries []knownHost
}

type knownHost struct {
	patterns []string
	key      ssh.PublicKey
	revoked  bool
}

// ParseKnownHosts parses known_hosts data (OpenSSH format, hashed or plain
// host names, wildcards, negations, [host]:port).
func ParseKnownHosts(data []byte) (*KnownHosts, error) {
	if len(data) > maxKnownHosts {
		return nil, fmt.Errorf("%w: known_hosts larger than %d bytes", git.ErrInvalidOptions, maxKnownHosts)
	}
	kh := &KnownHosts{}
	rest := data
	for line := 1; len(bytes.TrimSpace(rest)) > 0; line++ {
		marker, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: known_hosts: %v", git.ErrInvalidOptions, err)
		}
		rest = next
		switch marker {
		case "", "revoked":
			kh.entries = append(kh.entries, knownHost{patterns: hosts, key: key, revoked: marker == "revoked"})
		}
	}
	if len(kh.entries) == 0 {
		return nil, fmt.Errorf("%w: known_hosts has no host key", git.ErrInvalidOptions)
	}
	return kh, nil
}

// HostKeyCallback returns an ssh.HostKeyCallback enforcing the entries.
func (k *KnownHosts) HostKeyCallback() ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		name := normalize(hostname)
		var addr string
		if remote != nil {
			addr = normalize(remote.String())
		}
		known := false
		for _, e := range k.entries {
			if !e.matches(name) && (addr == "" || !e.matches(addr)) {
				continue
			}
			same := bytes.Equal(e.key.Marshal(), key.Marshal())
			if e.revoked && same {
				return fmt.Errorf("%w: host key for %s is revoked", git.ErrHostKey, name)
			}
			if !e.revoked {
				known = true
				if same {
					return nil
				}
			}
		}
		if known {
			return fmt.Errorf("%w: host key for %s does not match known_hosts (%s %s)", git.ErrHostKey, name, key.Type(), ssh.FingerprintSHA256(key))
		}
		return fmt.Errorf("%w: %s is not in known_hosts", git.ErrHostKey, name)
	}
}

// normalize gives the known_hosts form of host:port: "host" on port 22,
// "[host]:port" otherwise.
func normalize(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.Trim(hostport, "[]")
	}
	if p, _ := strconv.Atoi(port); p == 22 || port == "" {
		return host
	}
	return "[" + host + "]:" + port
}

func (e knownHost) matches(host string) bool {
	matched := false
	for _, p := range e.patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var ok bool
		if strings.HasPrefix(p, "|1|") {
			ok = hashedMatch(p, host)
		} else {
			ok = glob(p, host)
		}
		if ok && neg {
			return false
		}
		matched = matched || ok
	}
	return matched
}

// hashedMatch checks a "|1|salt|hash" pattern (HMAC-SHA1 of the host name).
func hashedMatch(pattern, host string) bool {
	parts := strings.Split(pattern, "|")
	if len(parts) != 4 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	want, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	m := hmac.New(sha1.New, salt)
	m.Write([]byte(host))
	return hmac.Equal(m.Sum(nil), want)
}

// glob matches OpenSSH host patterns: '*' and '?' are the only wildcards.
func glob(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	ok, err := regexp.MatchString(re, s)
	return err == nil && ok
}

// Algorithms returns the host key algorithms of the keys known for
// hostport ("host:port"), so the server is asked for a key known_hosts
// can check; nil when none is known (the callback then refuses the host).
func (k *KnownHosts) Algorithms(hostport string) []string {
	name := normalize(hostport)
	var algos []string
	seen := map[string]bool{}
	for _, e := range k.entries {
		if e.revoked || !e.matches(name) {
			continue
		}
		names := []string{e.key.Type()}
		if e.key.Type() == ssh.KeyAlgoRSA {
			names = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range names {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}
