package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// fleetRepos is how many repositories the fleet's GitRepositories share,
// fleetObjects how many ConfigMaps each Kustomization applies.
const (
	fleetRepos   = 5
	fleetObjects = 10
)

// BenchmarkFleet measures one gitopsd child process (default flags:
// --concurrent=4) bringing a fleet to Ready: N GitRepositories, each of
// one of 5 repositories, and N Kustomizations applying 10 ConfigMaps each
// (N=100; E2E_FLEET_N sets another, E2E_FLEET_FLAGS adds gitopsd flags).
// Run it once:
//
//	go test -run '^$' -bench BenchmarkFleet -benchtime 1x ./e2e/
//
// It reports s/ready (from creating the fleet until every Kustomization is
// Ready), the child's API requests per reconcile (client-go's
// rest_client_requests_total over controller-runtime's reconcile total),
// its peak RSS (VmHWM) and CPU seconds (utime+stime) so far, then, over
// one interval (1m) of steady state, its requests and reconciles per
// minute.
func BenchmarkFleet(b *testing.B) {
	n := 100
	if s := os.Getenv("E2E_FLEET_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("E2E_FLEET_N=%q: want a positive number", s)
		}
		n = v
	}
	b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
		for range b.N {
			fleet(b, n)
		}
	})
}

func fleet(b *testing.B, n int) {
	b.StopTimer()
	f := &fixture{t: b, ns: env.Namespace(b), c: env.Client()}
	srv := gittest.NewServer(b)
	for r := range fleetRepos {
		files := map[string]string{}
		for i := range fleetObjects {
			files[fmt.Sprintf("deploy/cm-%d.yaml", i)] = cm(fmt.Sprintf("cm-%d", i), fmt.Sprint(r))
		}
		srv.InitRepository(fmt.Sprintf("repo-%d.git", r)).Commit("main", "fleet", files)
	}
	interval := metav1.Duration{Duration: time.Minute}
	args := append([]string{"--watch-label-selector=" + childLabel + "=fleet"}, strings.Fields(os.Getenv("E2E_FLEET_FLAGS"))...)
	ch := startChildIn(b, b.TempDir(), env.KubeConfig(), args...)
	before := childStats(b, ch)

	b.StartTimer()
	t0 := time.Now()
	for i := range n {
		name := fmt.Sprintf("app-%04d", i)
		src := gitRepository(name, srv.HTTPURL(fmt.Sprintf("repo-%d.git", i%fleetRepos)))
		src.Spec.Interval = interval
		ks := kustomization(name, f.ns, src, "./deploy")
		ks.Spec.Interval = interval
		ks.Spec.NamePrefix = name + "-"
		ks.Spec.Timeout.Duration = timeout
		for _, o := range []client.Object{src, ks} {
			o.SetLabels(map[string]string{childLabel: "fleet"})
		}
		f.create(src, ks)
	}
	// Every Kustomization Ready, polled through one list a second.
	deadline := time.Now().Add(time.Duration(n) * time.Second)
	for {
		var l kustomizev1.KustomizationList
		if err := f.c.List(context.Background(), &l, client.InNamespace(f.ns)); err != nil {
			b.Fatal(err)
		}
		ready := 0
		for i := range l.Items {
			if conditions.IsReady(&l.Items[i]) && l.Items[i].Status.LastAppliedRevision != "" {
				ready++
			}
		}
		if ready == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d Kustomizations Ready after %s", ready, n, time.Since(t0))
		}
		time.Sleep(time.Second)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	ramp := childStats(b, ch)
	b.ReportMetric(elapsed.Seconds(), "s/ready")
	b.ReportMetric((ramp.requests-before.requests)/max(1, ramp.reconciles-before.reconciles), "requests/reconcile")
	b.ReportMetric(ramp.reconciles-before.reconciles, "reconciles/ready")
	b.ReportMetric(float64(ramp.peakRSS)/(1<<20), "MiB-peak-RSS")
	b.ReportMetric(ramp.cpu.Seconds(), "cpu-s/ready")

	// Steady state: three intervals with nothing to change.
	const intervals = 3
	if out, addr := os.Getenv("E2E_FLEET_PROFILE"), pprofAddr(args); out != "" && addr != "" {
		// A CPU profile of the steady state (needs --pprof-addr in
		// E2E_FLEET_FLAGS).
		profile(b, addr, intervals*interval.Duration, out)
	} else {
		time.Sleep(intervals * interval.Duration)
	}
	steady := childStats(b, ch)
	perMin := float64(time.Minute) / float64(intervals*interval.Duration)
	reconciles := max(1, steady.reconciles-ramp.reconciles)
	b.ReportMetric((steady.requests-ramp.requests)*perMin, "steady-requests/min")
	b.ReportMetric((steady.reconciles-ramp.reconciles)*perMin, "steady-reconciles/min")
	b.ReportMetric((steady.cpu-ramp.cpu).Seconds()*perMin, "steady-cpu-s/min")
	b.ReportMetric((steady.requests-ramp.requests)/reconciles, "steady-requests/reconcile")
	b.ReportMetric(float64((steady.cpu-ramp.cpu).Milliseconds())/reconciles, "steady-cpu-ms/reconcile")
	b.ReportMetric(float64(steady.peakRSS)/(1<<20), "MiB-peak-RSS-steady")
}

// BenchmarkSteadyMemory shows whether gitopsd leaks: one child gitopsd
// keeps a Kustomization of 1,000 ConfigMaps applied (interval 1s) while
// 100 GitRepositories are re-checked (interval 10s), and its resident
// memory (VmRSS) is read after the 10th and the 100th reconcile of the
// Kustomization since it became Ready. Run it once:
//
//	go test -run '^$' -bench BenchmarkSteadyMemory -benchtime 1x ./e2e/
//
// It reports MiB-RSS-10 and MiB-RSS-100, their difference
// (MiB-growth-10-100, flat is 0 give or take the Go heap's breathing),
// the peak, and the CPU of a reconcile of the 1,000 objects.
func BenchmarkSteadyMemory(b *testing.B) {
	for range b.N {
		steadyMemory(b, 1000, 100, 100)
	}
}

func steadyMemory(b *testing.B, objects, sources, reconciles int) {
	b.StopTimer()
	f := &fixture{t: b, ns: env.Namespace(b), c: env.Client()}
	srv := gittest.NewServer(b)
	big := map[string]string{}
	for i := range objects {
		big[fmt.Sprintf("deploy/cm-%04d.yaml", i)] = cm(fmt.Sprintf("cm-%04d", i), "v")
	}
	srv.InitRepository("big.git").Commit("main", "big", big)
	for r := range fleetRepos {
		files := map[string]string{}
		for i := range fleetObjects {
			files[fmt.Sprintf("deploy/cm-%d.yaml", i)] = cm(fmt.Sprintf("cm-%d", i), fmt.Sprint(r))
		}
		srv.InitRepository(fmt.Sprintf("repo-%d.git", r)).Commit("main", "fleet", files)
	}
	ch := startChildIn(b, b.TempDir(), env.KubeConfig(), "--watch-label-selector="+childLabel+"=memory")
	label := func(objs ...client.Object) {
		for _, o := range objs {
			o.SetLabels(map[string]string{childLabel: "memory"})
		}
	}
	src := gitRepository("big", srv.HTTPURL("big.git"))
	src.Spec.Interval = metav1.Duration{Duration: time.Minute}
	ks := kustomization("big", f.ns, src, "./deploy")
	ks.Spec.Interval = metav1.Duration{Duration: time.Second}
	ks.Spec.Timeout.Duration = timeout
	label(src, ks)
	f.create(src, ks)
	for i := range sources - 1 {
		s := gitRepository(fmt.Sprintf("src-%03d", i), srv.HTTPURL(fmt.Sprintf("repo-%d.git", i%fleetRepos)))
		s.Spec.Interval = metav1.Duration{Duration: 10 * time.Second}
		label(s)
		f.create(s)
	}
	f.eventually(ks, func() bool { return conditions.IsReady(ks) && ks.Status.LastAppliedRevision != "" },
		func() string { return describeKs(ks) })

	b.StartTimer()
	start := childStats(b, ch)
	at := func(n int) stats {
		deadline := time.Now().Add(time.Duration(n) * 10 * time.Second)
		for {
			s := childStats(b, ch)
			if s.kustomizations-start.kustomizations >= float64(n) {
				return s
			}
			if time.Now().After(deadline) {
				b.Fatalf("%v reconciles of %d after %s", s.kustomizations-start.kustomizations, n, time.Since(deadline))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	early := at(10)
	late := at(reconciles)
	b.StopTimer()
	b.ReportMetric(float64(early.rss)/(1<<20), "MiB-RSS-10")
	b.ReportMetric(float64(late.rss)/(1<<20), "MiB-RSS-100")
	b.ReportMetric(float64(late.rss-early.rss)/(1<<20), "MiB-growth-10-100")
	b.ReportMetric(float64(late.peakRSS)/(1<<20), "MiB-peak-RSS")
	n := late.kustomizations - early.kustomizations
	b.ReportMetric(float64((late.cpu-early.cpu).Milliseconds())/n, "cpu-ms/reconcile")
	b.ReportMetric((late.requests-early.requests)/max(1, late.reconciles-early.reconciles), "requests/reconcile")
}

// pprofAddr returns the --pprof-addr among args.
func pprofAddr(args []string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--pprof-addr="); ok && v != "0" {
			return v
		}
	}
	return ""
}

// profile writes a CPU profile of d from the pprof endpoint at addr to out.
func profile(b *testing.B, addr string, d time.Duration, out string) {
	b.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

// stats is what a child gitopsd has done so far.
type stats struct {
	requests, reconciles float64
	peakRSS              int64 // bytes
	rss                  int64 // bytes, now
	cpu                  time.Duration
	// kustomizations counts the Kustomization reconciles that did not
	// fail.
	kustomizations float64
}

func childStats(b *testing.B, ch *child) stats {
	b.Helper()
	fams, err := scrape("http://" + ch.metrics + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	s := stats{requests: fams.Sum("rest_client_requests_total"), reconciles: fams.Sum("controller_runtime_reconcile_total")}
	for _, r := range []string{"success", "requeue", "requeue_after"} {
		v, _ := fams.Value("controller_runtime_reconcile_total", map[string]string{"controller": "kustomization", "result": r})
		s.kustomizations += v
	}
	pid := ch.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		for key, dst := range map[string]*int64{"VmHWM:": &s.peakRSS, "VmRSS:": &s.rss} {
			if v, ok := strings.CutPrefix(l, key); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					b.Fatalf("%s %q: %v", key, v, err)
				}
				*dst = kb << 10
			}
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 14th and 15th fields, in clock ticks (USER_HZ, 100).
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	for _, i := range []int{11, 12} {
		ticks, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		s.cpu += time.Duration(ticks) * 10 * time.Millisecond
	}
	return s
}
