package e2e_test

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// BenchmarkCommitToApplied measures commit-to-applied latency with the
// whole gitopsd: from a commit landing on the git server to the
// Kustomization being Ready with it applied (a changed ConfigMap, wait on).
//
//   - request: the reconcile request annotation is set on the
//     GitRepository right after the commit, as `flux reconcile` or a
//     webhook receiver does;
//   - polling-2s: no request; the GitRepository polls every 2s. Each commit
//     lands just after the previous one was applied, that is just after a
//     poll, so this is the worst case (interval + work); a commit at a
//     random time waits interval/2 on average.
//
// ms/applied is the mean latency; ms/artifact the part until the
// GitRepository published the commit's artifact; ns/op is ms/applied plus
// the commit.
func BenchmarkCommitToApplied(b *testing.B) {
	for _, bc := range []struct {
		name     string
		interval time.Duration
		request  bool
	}{
		{"request", 10 * time.Minute, true},
		{"polling-2s", 2 * time.Second, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := &fixture{t: b, ns: env.Namespace(b), c: env.Client()}
			srv := gittest.NewServer(b)
			repo := srv.InitRepository("app.git")
			c := repo.Commit("main", "init", map[string]string{"deploy/config.yaml": cm("config", "0")})
			src := gitRepository("app", srv.HTTPURL("app.git"))
			src.Spec.Interval = metav1.Duration{Duration: bc.interval}
			ks := kustomization("app", f.ns, src, "./deploy")
			f.create(src, ks)
			f.applied(ks, "main@sha1:"+c)
			// Let the GitRepository's own first reconcile settle, so that the
			// polling case starts on a poll boundary.
			f.eventually(src, func() bool { return conditions.IsReady(src) }, func() string { return conds(src.Status.Conditions) })

			var total, source time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c := repo.Commit("main", fmt.Sprint("change ", i), map[string]string{"deploy/config.yaml": cm("config", fmt.Sprint(i+1))})
				t0 := time.Now()
				if bc.request {
					f.request(src)
				}
				rev := "main@sha1:" + c
				f.eventually(src, func() bool { return src.Status.Artifact != nil && src.Status.Artifact.Revision == rev },
					func() string { return conds(src.Status.Conditions) })
				source += time.Since(t0)
				f.applied(ks, rev)
				total += time.Since(t0)
			}
			b.StopTimer()
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/applied")
			b.ReportMetric(float64(source.Milliseconds())/float64(b.N), "ms/artifact")
		})
	}
}
