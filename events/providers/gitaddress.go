package providers

import (
	"net/url"
	"strings"
)

// repoAddress is a Git repository's address split for a forge API.
type repoAddress struct {
	// origin is "https://host[:port]" (an SSH address maps to https on
	// the default port).
	origin string
	scheme string
	host   string // without port
	// path is the repository's path without leading '/' and ".git".
	path string
}

// parseRepoAddress reads https://host/owner/repo(.git), ssh://git@host/owner/repo.git
// and the scp-like git@host:owner/repo.git. It never quotes the address in
// its error (which may carry credentials).
func parseRepoAddress(provider, addr string) (repoAddress, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return repoAddress{}, configError(provider, "address (the repository URL) is required")
	}
	var u *url.URL
	if !strings.Contains(addr, "://") {
		// scp-like: [user@]host:path
		at := strings.LastIndexByte(addr, '@')
		rest := addr[at+1:]
		host, path, ok := strings.Cut(rest, ":")
		if !ok || host == "" || path == "" {
			return repoAddress{}, configError(provider, "address is not a repository URL")
		}
		u = &url.URL{Scheme: "ssh", Host: host, Path: "/" + path}
	} else {
		var err error
		if u, err = url.Parse(addr); err != nil {
			return repoAddress{}, configError(provider, "address is not a repository URL")
		}
	}
	r := repoAddress{scheme: u.Scheme, host: u.Hostname()}
	switch u.Scheme {
	case "https", "http":
		r.origin = u.Scheme + "://" + u.Host
	case "ssh":
		r.scheme = "https"
		r.origin = "https://" + u.Hostname()
	default:
		return repoAddress{}, configError(provider, "address must be an https, http or ssh repository URL")
	}
	if r.host == "" {
		return repoAddress{}, configError(provider, "address has no host")
	}
	r.path = strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if r.path == "" {
		return repoAddress{}, configError(provider, "address names no repository")
	}
	for _, seg := range strings.Split(r.path, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return repoAddress{}, configError(provider, "address has an empty, '.' or '..' path segment")
		}
	}
	return r, nil
}

// ownerRepo splits a two-segment path.
func (r repoAddress) ownerRepo(provider string) (string, string, error) {
	owner, repo, ok := strings.Cut(r.path, "/")
	if !ok || strings.Contains(repo, "/") {
		return "", "", configError(provider, "address must name <owner>/<repository>")
	}
	return owner, repo, nil
}

func tokenOrPassword(c Config) string {
	if c.Token != "" {
		return c.Token
	}
	return c.Password
}
