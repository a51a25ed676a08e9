// Package recorder records what a controller does, once per call: a
// Kubernetes Event through client-go's event machinery (aggregated and
// rate-limited by its correlator, written no faster than the client's
// QPS), and, when a hub address is set, the same event in Flux's JSON
// posted to the hub.
//
// The post is asynchronous: the event goes into a bounded queue and a
// worker posts it, in order, with retries and exponential backoff for
// connection errors and 5xx answers (a 4xx is not retried). A slow or dead
// hub never slows the caller: a full queue drops the event and counts it.
// Trace events (EventTypeTrace) stay in the cluster as Normal Events.
//
//	rec, err := recorder.New(ctx, "gitopsd",
//		recorder.WithKubeConfig(restConfig),
//		recorder.WithScheme(scheme),
//		recorder.WithHub("http://gitopsd-hub.gitops-system.svc/"))
//	defer rec.Close(shutdownCtx)
//	rec.AnnotatedEventf(obj, map[string]string{events.MetaRevision: rev},
//		corev1.EventTypeNormal, "ReconciliationSucceeded", "applied revision %s", rev)
//
// Metadata keys without a '/' are prefixed with the object's API group
// ("kustomize.gitopskit.dev/revision"), as Flux controllers write them; the
// object's annotations prefixed with events.Group are carried too.
// Messages and metadata values have URL passwords masked
// ("https://user:***@host"), plus whatever WithRedactor masks.
//
// Metrics (Register): posted_total, dropped_total{reason} and
// queue_length under <prefix>_events_recorder_.
package recorder
