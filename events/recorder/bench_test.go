package recorder_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/recorder"
)

// BenchmarkRecordEvent is the cost of one AnnotatedEventf on the caller:
// the reference, the metadata, the Kubernetes Event handed to client-go's
// broadcaster and the hub event queued. Posting happens elsewhere, so the
// figure does not depend on the hub; events beyond the queue are dropped.
func BenchmarkRecordEvent(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts func() []recorder.Option
	}{
		{"hub", func() []recorder.Option { return []recorder.Option{recorder.WithHub(eventstest.NewSink(b).URL())} }},
		{"kube+hub", func() []recorder.Option {
			return []recorder.Option{recorder.WithHub(eventstest.NewSink(b).URL()), recorder.WithKubeConfig(env.Config())}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ns := env.Namespace(b)
			rec, err := recorder.New(context.Background(), "gitopsd", bc.opts()...)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = rec.Close(ctx)
			}()
			obj := kustomization(ns, "podinfo")
			md := map[string]string{events.MetaRevision: "main@sha1:0123456789abcdef0123456789abcdef01234567", events.MetaToken: "t"}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				rec.AnnotatedEventf(obj, md, corev1.EventTypeNormal, "ReconciliationSucceeded", "applied revision %d", i)
			}
		})
	}
}
