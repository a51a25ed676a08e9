package gitopsd

import (
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact/server"
	"github.com/gitopskit/kit/artifact/storage"
)

func TestFlags(t *testing.T) {
	t.Parallel()
	opts := DefaultOptions()
	fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
	opts.BindFlags(fs)
	err := fs.Parse([]string{
		"--storage-path=/data", "--storage-addr=:9191", "--storage-adv-addr=gitopsd.system.svc.",
		"--artifact-host-override=localhost:9090", "--cross-namespace-selector=shared=true",
		"--concurrent=8", "--enable-leader-election",
		"--default-service-account=tenant", "--requeue-dependency=15s",
		"--git-cache-path=/var/cache/gitopsd", "--image-update-batch-window=2s", "--build-cache-size=64Mi",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got := []any{opts.StoragePath, opts.StorageAddr, opts.StorageAdvAddr, opts.ArtifactHostOverride,
		opts.CrossNamespaceSelector, opts.Controller.Concurrency, opts.Controller.LeaderElection, opts.Controller.LeaderElectionID,
		opts.DefaultServiceAccount, opts.RequeueDependency.String(), opts.gitCachePath(), opts.ImageUpdateBatchWindow.String(), opts.BuildCacheBytes}
	want := []any{"/data", ":9191", "gitopsd.system.svc.", "localhost:9090", "shared=true", 8, true, "gitopsd-leader-election",
		"tenant", "15s", "/var/cache/gitopsd", "2s", int64(64 << 20)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parsed options (-want +got):\n%s", diff)
	}
	p, err := opts.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.String(), "shared=true") {
		t.Errorf("policy %q does not name the selector", p)
	}
}

func TestBuildCacheSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		arg  string
		want int64 // the reconciler's field; 0 means an error
	}{
		{"", 256 << 20}, {"--build-cache-size=1Gi", 1 << 30}, {"--build-cache-size=0", -1},
		{"--build-cache-size=-1Mi", 0}, {"--build-cache-size=lots", 0},
	} {
		opts := DefaultOptions()
		fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		opts.BindFlags(fs)
		args := []string{"--storage-path=/data"}
		if tc.arg != "" {
			args = append(args, tc.arg)
		}
		err := fs.Parse(args)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("%s: accepted", tc.arg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.arg, err)
		} else if got := buildCacheBytes(opts.BuildCacheBytes); got != tc.want {
			t.Errorf("%s: the reconciler gets %d, want %d", tc.arg, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   []string // substrings of the error; none means valid
	}{
		{"defaults with a storage path", func(*Options) {}, nil},
		{"no storage path", func(o *Options) { o.StoragePath = "" }, []string{"--storage-path"}},
		{"storage addr without port", func(o *Options) { o.StorageAddr = "localhost" }, []string{"--storage-addr"}},
		{"adv addr with scheme", func(o *Options) { o.StorageAdvAddr = "http://x" }, []string{"--storage-adv-addr"}},
		{"adv addr bad port", func(o *Options) { o.StorageAdvAddr = "x:99999" }, []string{"--storage-adv-addr"}},
		{"override with path", func(o *Options) { o.ArtifactHostOverride = "x/y" }, []string{"--artifact-host-override"}},
		{"bad selector", func(o *Options) { o.CrossNamespaceSelector = "a in (" }, []string{"--cross-namespace-selector"}},
		{"selector and no refs", func(o *Options) {
			o.CrossNamespaceSelector, o.NoCrossNamespaceRefs = "a=b", true
		}, []string{"cannot be combined"}},
		{"bad default service account", func(o *Options) { o.DefaultServiceAccount = "Not/Valid" }, []string{"--default-service-account"}},
		{"negative dependency requeue", func(o *Options) { o.RequeueDependency = -time.Second }, []string{"--requeue-dependency"}},
		{"git cache outside the storage", func(o *Options) { o.GitCachePath = "/var/cache/gitopsd" }, nil},
		{"git cache in a dot folder of the storage", func(o *Options) { o.GitCachePath = "/data/.cache/git" }, nil},
		{"git cache beside the storage", func(o *Options) { o.GitCachePath = "/data-git" }, nil},
		{"git cache served", func(o *Options) { o.GitCachePath = "/data/gitcache" }, []string{"--git-cache-path", "would serve it"}},
		{"git cache is the storage", func(o *Options) { o.GitCachePath = "/data/" }, []string{"--git-cache-path"}},
		{"git cache under a served folder", func(o *Options) { o.GitCachePath = "/data/GitRepository/.git" }, []string{"--git-cache-path"}},
		{"no batch window", func(o *Options) { o.ImageUpdateBatchWindow = 0 }, nil},
		{"negative batch window", func(o *Options) { o.ImageUpdateBatchWindow = -time.Second }, []string{"--image-update-batch-window"}},
		{"every problem reported", func(o *Options) {
			o.StoragePath, o.Controller.Concurrency = "", 0
		}, []string{"--storage-path", "--concurrent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := DefaultOptions()
			o.StoragePath = "/data"
			tc.change(&o)
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted the options, want an error naming %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// The git cache defaults to a dot folder of the storage, which no
// artifact path can name; the batch window to image.DefaultBatchWindow.
func TestGitCacheDefaults(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.StoragePath = "/data"
	if got := o.gitCachePath(); got != "/data/.git-cache" {
		t.Errorf("git cache path %q", got)
	}
	if err := validGitCachePath(o.StoragePath, o.gitCachePath()); err != nil {
		t.Errorf("the default is refused: %v", err)
	}
	if o.ImageUpdateBatchWindow != 5*time.Second {
		t.Errorf("batch window %s", o.ImageUpdateBatchWindow)
	}
	// A cache file shaped as an artifact path is not served.
	root := t.TempDir()
	st, err := storage.New(root)
	if err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(root, DefaultGitCacheDir, "repositories", "0123.git", "HEAD")
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("ref: refs/heads/main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	server.New(st).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+DefaultGitCacheDir+"/repositories/0123.git/HEAD", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("the artifact server answers %d for a git cache file", rec.Code)
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   Options
		substr string
	}{
		{"default allows all", Options{}, "all"},
		{"no cross-namespace refs", Options{NoCrossNamespaceRefs: true}, "deny"},
		{"selector", Options{CrossNamespaceSelector: "team=platform"}, "team=platform"},
	} {
		p, err := tc.opts.Policy()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(strings.ToLower(p.String()), tc.substr) {
			t.Errorf("%s: policy %q, want it to mention %q", tc.name, p, tc.substr)
		}
	}
}

func TestAdvertisedAddr(t *testing.T) {
	// Not parallel: it sets an environment variable.
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name, adv, bound, podIP, want string
	}{
		{"explicit", "gitopsd.ns.svc.", "0.0.0.0:9090", "10.0.0.7", "gitopsd.ns.svc."},
		{"loopback kept", "", "127.0.0.1:41234", "10.0.0.7", "127.0.0.1:41234"},
		{"unspecified uses the pod IP", "", "0.0.0.0:9090", "10.0.0.7", "10.0.0.7:9090"},
		{"unspecified IPv6 uses the pod IP", "", "[::]:9090", "fd00::7", "[fd00::7]:9090"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(PodIPEnv, tc.podIP)
			got, err := advertisedAddr(tc.adv, tcp(tc.bound))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("advertisedAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNoRemoteBases: remote bases are refused unless --no-remote-bases=false.
func TestNoRemoteBases(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args  []string
		allow bool
	}{
		{nil, false},
		{[]string{"--no-remote-bases"}, false},
		{[]string{"--no-remote-bases=true"}, false},
		{[]string{"--no-remote-bases=false"}, true},
	} {
		opts := DefaultOptions()
		fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
		opts.BindFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if opts.AllowRemoteBases != c.allow {
			t.Errorf("%q: AllowRemoteBases = %v, want %v", c.args, opts.AllowRemoteBases, c.allow)
		}
	}
	fs := flag.NewFlagSet("gitopsd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts := DefaultOptions()
	opts.BindFlags(fs)
	if err := fs.Parse([]string{"--no-remote-bases=maybe"}); err == nil {
		t.Error("--no-remote-bases=maybe accepted")
	}
	if d := fs.Lookup("no-remote-bases").DefValue; d != "true" {
		t.Errorf("default shown as %q, want true", d)
	}
}
