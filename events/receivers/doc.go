// Package receivers serves incoming webhooks — a Git push, an image push,
// a CDEvent — verifies them, and says which objects to reconcile.
//
// Each receiver listens on WebhookPath(token, name, namespace):
// "/hook/" and the SHA-256 of the three, Flux's derivation, so the path
// cannot be guessed without the token and a migrated receiver keeps its
// URL. A Handler finds the receiver of a path through a Lookup, reads the
// body (bounded, 3 MiB by default, 413 beyond), checks it with Verify for
// the receiver's type, and hands the verified Request to a Trigger;
// RequestReconcile sets runtime/reconcile's requestedAt annotation on the
// objects the request names.
//
//	h := receivers.NewHandler(lookup, func(ctx context.Context, req *receivers.Request) error {
//		_, err := receivers.RequestReconcile(ctx, c, req.Resources, time.Now())
//		return err
//	})
//	srv := h.Server(":9292") // bounded header/body reads and timeouts
//
// Types: generic (the secret path only), generic-hmac (X-Signature),
// github (X-Hub-Signature-256, an X-GitHub-Event allow-list, ping),
// gitlab (X-Gitlab-Token), bitbucket (Bitbucket Server's and Cloud's
// X-Hub-Signature), harbor (Authorization), dockerhub and quay (the secret
// path and their push payload), nexus (X-Nexus-Webhook-Signature) and
// cdevents (a CDEvent as a binary CloudEvent). Signatures and tokens are
// compared in constant time; a bad one is a bare 401, whatever was wrong.
// Every payload parser is fuzzed.
package receivers
