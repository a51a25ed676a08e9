package options_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gitopskit/kit/runtime/options"
)

func TestBindFlags(t *testing.T) {
	t.Parallel()
	o := options.DefaultOptions("source-controller")
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o.BindFlags(fs)
	err := fs.Parse([]string{
		"--enable-leader-election",
		"--leader-election-id=lead",
		"--leader-election-namespace=flux-system",
		"--leader-election-lease-duration=40s",
		"--leader-election-renew-deadline=20s",
		"--leader-election-retry-period=2s",
		"--concurrent=10",
		"--kube-api-qps=100.5",
		"--kube-api-burst=500",
		"--watch-namespaces=team-a, team-b,,",
		"--watch-label-selector=sharding.gitopskit.dev/key=shard1",
		"--metrics-addr=127.0.0.1:9090",
		"--health-addr=0",
		"--pprof-addr=127.0.0.1:6060",
		"--log-level=debug",
		"--log-format=text",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := options.Options{
		Name:                    "source-controller",
		LeaderElection:          true,
		LeaderElectionID:        "lead",
		LeaderElectionNamespace: "flux-system",
		LeaseDuration:           40 * time.Second,
		RenewDeadline:           20 * time.Second,
		RetryPeriod:             2 * time.Second,
		Concurrency:             10,
		QPS:                     100.5,
		Burst:                   500,
		WatchNamespaces:         []string{"team-a", "team-b"},
		WatchLabelSelector:      "sharding.gitopskit.dev/key=shard1",
		MetricsAddr:             "127.0.0.1:9090",
		HealthAddr:              "0",
		PprofAddr:               "127.0.0.1:6060",
		LogLevel:                "debug",
		LogFormat:               "text",
	}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestBindFlagsKeepsDefaults(t *testing.T) {
	t.Parallel()
	o := options.DefaultOptions("x")
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(options.DefaultOptions("x"), o); diff != "" {
		t.Errorf("options changed by parsing nothing (-want +got):\n%s", diff)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	if got := fs.Lookup("kube-api-qps").Usage; !strings.Contains(got, "default 50") {
		t.Errorf("kube-api-qps usage %q does not show the default", got)
	}
}

func TestBindFlagsRejectsBadQPS(t *testing.T) {
	t.Parallel()
	o := options.DefaultOptions("x")
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	o.BindFlags(fs)
	if err := fs.Parse([]string{"--kube-api-qps=fast"}); err == nil {
		t.Fatal("parsing --kube-api-qps=fast succeeded")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*options.Options)
		want   []string // substrings, one per expected problem
	}{
		{name: "defaults", modify: func(*options.Options) {}},
		{name: "leader election defaults", modify: func(o *options.Options) { o.LeaderElection = true }},
		{name: "bad selector", modify: func(o *options.Options) { o.WatchLabelSelector = "a=(b" }, want: []string{"invalid --watch-label-selector"}},
		{name: "negative concurrency", modify: func(o *options.Options) { o.Concurrency = -1 }, want: []string{"invalid --concurrent: must be at least 1, got -1"}},
		{name: "zero concurrency", modify: func(o *options.Options) { o.Concurrency = 0 }, want: []string{"invalid --concurrent"}},
		{name: "negative qps", modify: func(o *options.Options) { o.QPS = -1 }, want: []string{"invalid --kube-api-qps"}},
		{name: "qps without burst", modify: func(o *options.Options) { o.Burst = 0 }, want: []string{"invalid --kube-api-burst"}},
		{name: "bad namespace", modify: func(o *options.Options) { o.WatchNamespaces = []string{"ok", "Not_OK"} }, want: []string{`invalid --watch-namespaces: "Not_OK"`}},
		{name: "bad metrics address", modify: func(o *options.Options) { o.MetricsAddr = "8080" }, want: []string{"invalid --metrics-addr"}},
		{name: "bad health address", modify: func(o *options.Options) { o.HealthAddr = "" }, want: []string{"invalid --health-addr"}},
		{name: "bad pprof address", modify: func(o *options.Options) { o.PprofAddr = "6060" }, want: []string{"invalid --pprof-addr"}},
		{name: "bad log level", modify: func(o *options.Options) { o.LogLevel = "verbose" }, want: []string{"invalid --log-level"}},
		{name: "bad log format", modify: func(o *options.Options) { o.LogFormat = "xml" }, want: []string{"invalid --log-format"}},
		{
			name:   "leader election without id",
			modify: func(o *options.Options) { o.LeaderElection, o.LeaderElectionID = true, "" },
			want:   []string{"invalid --leader-election-id: must be set"},
		},
		{
			name:   "leader election timings",
			modify: func(o *options.Options) { o.LeaderElection, o.LeaseDuration = true, 10*time.Second },
			want:   []string{"invalid --leader-election-lease-duration"},
		},
		{
			name:   "renew deadline too short",
			modify: func(o *options.Options) { o.LeaderElection, o.RenewDeadline = true, 5*time.Second },
			want:   []string{"invalid --leader-election-renew-deadline"},
		},
		{
			name:   "timings ignored without leader election",
			modify: func(o *options.Options) { o.LeaseDuration = 0 },
		},
		{
			name: "all problems reported at once",
			modify: func(o *options.Options) {
				o.Concurrency, o.LogFormat, o.WatchLabelSelector = 0, "xml", "!!"
			},
			want: []string{"--concurrent", "--log-format", "--watch-label-selector"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := options.DefaultOptions("x")
			tt.modify(&o)
			err := o.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d problems, want %d: %v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level string
		want  []string // messages that get through, of error, info, v1, v2
	}{
		{level: "error", want: []string{"error"}},
		{level: "info", want: []string{"error", "info"}},
		{level: "debug", want: []string{"error", "info", "v1"}},
		{level: "trace", want: []string{"error", "info", "v1", "v2"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			o := options.DefaultOptions("x")
			o.LogLevel, o.LogOutput = tt.level, &buf
			log, err := o.Logger()
			if err != nil {
				t.Fatal(err)
			}
			log = log.WithName("ctrl").WithValues("controller", "git")
			log.Error(nil, "error")
			log.Info("info")
			log.V(1).Info("v1")
			log.V(2).Info("v2", "key", "value")

			var got []string
			dec := json.NewDecoder(&buf)
			for dec.More() {
				var line map[string]any
				if err := dec.Decode(&line); err != nil {
					t.Fatalf("not JSON lines: %v", err)
				}
				if line["controller"] != "git" || line["logger"] != "ctrl" {
					t.Errorf("line %v lacks the logger's name and values", line)
				}
				got = append(got, line["msg"].(string))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoggerText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	o := options.DefaultOptions("x")
	o.LogFormat, o.LogOutput = "text", &buf
	log, err := o.Logger()
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "k", "v")
	if got := buf.String(); !strings.Contains(got, "level=INFO msg=hello k=v") {
		t.Errorf("text output %q", got)
	}
	o.LogFormat = "xml"
	if _, err := o.Logger(); err == nil {
		t.Error("Logger accepted format xml")
	}
}

func TestManagerOptions(t *testing.T) {
	t.Parallel()
	o := options.DefaultOptions("x")
	o.WatchNamespaces = []string{"a", "b"}
	o.WatchLabelSelector = "shard=1"
	o.Concurrency = 7
	mo, err := o.ManagerOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, keysOf(mo.Cache.DefaultNamespaces), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("namespaces (-want +got):\n%s", diff)
	}
	if mo.Cache.DefaultLabelSelector.String() != "shard=1" || mo.Controller.MaxConcurrentReconciles != 7 || !mo.LeaderElectionReleaseOnCancel {
		t.Errorf("manager options %+v", mo)
	}
	// The durations are copies: changing the Options later does not reach
	// the manager.
	o.LeaseDuration = time.Hour
	if *mo.LeaseDuration != 35*time.Second {
		t.Errorf("lease duration aliases the options")
	}
	o.Concurrency = 0
	if _, err := o.ManagerOptions(nil); err == nil {
		t.Error("ManagerOptions accepted invalid options")
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
