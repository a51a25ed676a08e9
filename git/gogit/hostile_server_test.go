package gogit_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// maxEndless bounds what an endless response sends, so a client that
// reads it all ends the test instead of hanging it.
const maxEndless = 8 << 30

// endless writes chunk again and again until the client goes away.
func endless(w io.Writer, r *http.Request, chunk []byte) {
	for sent := 0; sent < maxEndless; sent += len(chunk) {
		if r.Context().Err() != nil {
			return
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// hostileServer answers every request as mode says:
//
//	"401", "500": that status with an endless body;
//	"advertisement": an endless reference advertisement;
//	"pack": the advertisement of upstream, and the pack packData for any
//	fetch.
func hostileServer(t *testing.T, mode string, upstream *gittest.Server, packData []byte) string {
	t.Helper()
	var rp *httputil.ReverseProxy
	if upstream != nil {
		target, _ := url.Parse(upstream.HTTPURL(""))
		rp = httputil.NewSingleHostReverseProxy(target)
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case "401", "500":
			if mode == "401" {
				w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
				w.WriteHeader(http.StatusUnauthorized)
			} else {
				w.WriteHeader(http.StatusInternalServerError)
			}
			endless(w, r, bytes.Repeat([]byte("A"), 32<<10))
		case "advertisement":
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			_, _ = io.WriteString(w, pkt("# service=git-upload-pack\n")+"0000")
			_, _ = io.WriteString(w, pkt(strings.Repeat("1", 40)+" HEAD\x00side-band-64k ofs-delta\n"))
			var b strings.Builder
			for i := range 1000 {
				fmt.Fprint(&b, pkt(fmt.Sprintf("%040x refs/heads/branch-%d\n", i, i)))
			}
			endless(w, r, []byte(b.String()))
		case "pack":
			if r.Method == http.MethodGet {
				rp.ServeHTTP(w, r)
				return
			}
			req, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
			if bytes.Contains(req, []byte("deepen")) {
				_, _ = io.WriteString(w, "0000") // no shallow commit to report
			}
			_, _ = io.WriteString(w, pkt("NAK\n"))
			for data := packData; len(data) > 0; {
				n := min(len(data), 65515)
				_, _ = io.WriteString(w, fmt.Sprintf("%04x\x01", n+5))
				_, _ = w.Write(data[:n])
				data = data[n:]
			}
			_, _ = io.WriteString(w, "0000")
		}
	}))
	t.Cleanup(s.Close)
	return s.URL + "/app.git"
}

func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// lyingPack is a pack of one blob whose header declares 10 bytes but whose
// data inflates to size bytes of zeros (a few hundred KiB per GiB).
func lyingPack(size int64) []byte {
	var b bytes.Buffer
	b.WriteString("PACK")
	_ = binary.Write(&b, binary.BigEndian, uint32(2))
	_ = binary.Write(&b, binary.BigEndian, uint32(1))
	b.WriteByte(3<<4 | 10) // blob, 10 bytes
	zw, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	zeros := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(zeros)) {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	sum := sha1.Sum(b.Bytes())
	return append(b.Bytes(), sum[:]...)
}

// hugeHeaderPack is a pack of one blob that declares size bytes.
func hugeHeaderPack(size uint64) []byte {
	var b bytes.Buffer
	b.WriteString("PACK")
	_ = binary.Write(&b, binary.BigEndian, uint32(2))
	_ = binary.Write(&b, binary.BigEndian, uint32(1))
	c := byte(3<<4) | byte(size&15)
	for size >>= 4; size > 0; size >>= 7 {
		b.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
	}
	b.WriteByte(c)
	zw := zlib.NewWriter(&b)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	sum := sha1.Sum(b.Bytes())
	return append(b.Bytes(), sum[:]...)
}

// TestHostileHTTPResponses: endless error bodies and advertisements are
// read only up to their bounds, and a pack that lies about an object is
// refused before it is stored.
func TestHostileHTTPResponses(t *testing.T) {
	t.Parallel()
	up := gittest.NewServer(t)
	up.InitRepository("app.git").Commit("main", "x", map[string]string{"a": "b"})
	cases := []struct {
		mode    string
		pack    []byte
		want    error
		wantMsg string
	}{
		{mode: "401", want: git.ErrAuthentication},
		{mode: "500"},
		{mode: "advertisement", want: git.ErrSizeLimit},
		{mode: "pack", pack: lyingPack(64 << 20), wantMsg: "header says 10"},
		{mode: "pack", pack: hugeHeaderPack(1 << 40), want: git.ErrSizeLimit, wantMsg: "MaxObjectSize"},
	}
	for _, tc := range cases {
		t.Run(tc.mode+tc.wantMsg, func(t *testing.T) {
			t.Parallel()
			u := hostileServer(t, tc.mode, up, tc.pack)
			ops, cacheRoot := ops(t, u)
			for _, o := range ops {
				dir := filepath.Join(t.TempDir(), "out")
				_, err := o.run(context.Background(), dir, gogit.CloneOptions{})
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("%s: err = %v, want %v %q", o.name, err, tc.want, tc.wantMsg)
				}
				if len(err.Error()) > 8<<10 {
					t.Fatalf("%s: a %d-byte error message: the body was not bounded", o.name, len(err.Error()))
				}
				if got := entriesOf(t, dir); len(got) != 0 {
					t.Fatalf("%s left %v", o.name, got)
				}
			}
			if tmps, _ := filepath.Glob(filepath.Join(cacheRoot, "*", "objects", "pack", "tmp_*")); len(tmps) > 0 {
				t.Fatalf("a refused pack was left in the cache: %v", tmps)
			}
		})
	}
}

// hostileSSH is an SSH server that accepts any key and answers every
// command with an endless reference advertisement.
func hostileSSH(t *testing.T) (addr string, knownHosts []byte) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for nc := range chans {
					ch, creqs, err := nc.Accept()
					if err != nil {
						return
					}
					go func() {
						for r := range creqs {
							_ = r.Reply(r.Type == "exec", nil)
							if r.Type == "exec" {
								_, _ = io.WriteString(ch, pkt(strings.Repeat("1", 40)+" HEAD\x00side-band-64k\n"))
								line := []byte(pkt(strings.Repeat("2", 40) + " refs/heads/" + strings.Repeat("x", 900) + "\n"))
								for sent := 0; sent < maxEndless; sent += len(line) {
									if _, err := ch.Write(line); err != nil {
										break
									}
								}
								ch.Close()
							}
						}
					}()
				}
			}()
		}
	}()
	a := ln.Addr().(*net.TCPAddr)
	return a.String(), []byte(fmt.Sprintf("[%s]:%d %s", a.IP, a.Port, ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

func TestHostileSSHAdvertisement(t *testing.T) {
	t.Parallel()
	addr, kh := hostileSSH(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	id, _ := identity(t, key, "")
	c, err := gogit.New("ssh://git@"+addr+"/app.git", gogit.WithAuth(git.AuthOptions{Identity: id, KnownHosts: kh}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(context.Background(), git.Reference{}); !errors.Is(err, git.ErrSizeLimit) {
		t.Fatalf("err = %v, want ErrSizeLimit", err)
	}
}
