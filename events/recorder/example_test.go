package recorder_test

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/recorder"
)

// A controller records a Kubernetes Event and posts the same event to its
// hub, without waiting for either.
func ExampleNew() {
	ctx := ctrl.SetupSignalHandler()
	scheme := runtime.NewScheme() // with the controller's types added

	rec, err := recorder.New(ctx, "gitopsd",
		recorder.WithKubeConfig(ctrl.GetConfigOrDie()),
		recorder.WithScheme(scheme),
		recorder.WithHub("http://gitopsd-events.gitops-system.svc/"),
	)
	if err != nil {
		panic(err)
	}
	_ = rec.Register(ctrlmetrics.Registry)
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rec.Close(shutdown) // posts what is still queued
	}()

	var obj runtime.Object // the reconciled object
	rev := "main@sha1:0123456789abcdef0123456789abcdef01234567"
	rec.AnnotatedEventf(obj, map[string]string{events.MetaRevision: rev},
		corev1.EventTypeNormal, "ReconciliationSucceeded", "applied revision %s", rev)
	rec.Eventf(obj, corev1.EventTypeWarning, "HealthCheckFailed", "deployment/podinfo not ready")
	rec.Eventf(obj, recorder.EventTypeTrace, "Progressing", "building") // stays in the cluster
}
