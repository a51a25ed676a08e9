package e2e_test

import (
	"context"
	"fmt"
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
// (N=100; E2E_FLEET_N sets another). Run it once:
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
	ch := startChildIn(b, b.TempDir(), env.KubeConfig(), "--watch-label-selector="+childLabel+"=fleet")
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

	// Steady state: one interval with nothing to change.
	time.Sleep(interval.Duration)
	steady := childStats(b, ch)
	perMin := float64(time.Minute) / float64(interval.Duration)
	b.ReportMetric((steady.requests-ramp.requests)*perMin, "steady-requests/min")
	b.ReportMetric((steady.reconciles-ramp.reconciles)*perMin, "steady-reconciles/min")
	b.ReportMetric((steady.cpu-ramp.cpu).Seconds()*perMin, "steady-cpu-s/min")
	b.ReportMetric(float64(steady.peakRSS)/(1<<20), "MiB-peak-RSS-steady")
}

// stats is what a child gitopsd has done so far.
type stats struct {
	requests, reconciles float64
	peakRSS              int64 // bytes
	cpu                  time.Duration
}

func childStats(b *testing.B, ch *child) stats {
	b.Helper()
	fams, err := scrape("http://" + ch.metrics + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	s := stats{requests: fams.Sum("rest_client_requests_total"), reconciles: fams.Sum("controller_runtime_reconcile_total")}
	pid := ch.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			s.peakRSS = kb << 10
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
