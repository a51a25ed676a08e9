package kustomize

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// maxHistory is how many outcomes status.history keeps.
const maxHistory = 5

// maxListed is how many objects a condition message names before "and N
// more".
const maxListed = 10

// originRevisionKey is the artifact metadata key of the revision an
// artifact was made from (the OCI annotation Flux reads too).
const originRevisionKey = "org.opencontainers.image.revision"

// run is what one reconcile learns for status.history.
type run struct {
	start            time.Time
	revision, origin string
	digest           string
}

// originRevision returns the revision the artifact was made from, if it
// says.
func originRevision(a *artifact.Artifact) string {
	return a.Metadata[originRevisionKey]
}

// setDigest returns the sha256 of the built objects, independent of their
// order, and the size of their JSON encoding.
func setDigest(objs []*unstructured.Unstructured) (digest string, size int64, err error) {
	sums := make([]string, 0, len(objs))
	for _, o := range objs {
		b, err := json.Marshal(o.Object)
		if err != nil {
			return "", 0, fmt.Errorf("digest of %s: %w", ssa.IDOf(o), err)
		}
		size += int64(len(b))
		sum := sha256.Sum256(b)
		sums = append(sums, hex.EncodeToString(sum[:]))
	}
	slices.Sort(sums)
	h := sha256.New()
	for _, s := range sums {
		h.Write([]byte(s))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), size, nil
}

// recordHistory adds the outcome of a reconcile to status.history, newest
// first, unless it repeats the newest entry (same objects, same outcome):
// an unchanged re-check changes no status.
func recordHistory(obj *kustomizev1.Kustomization, r *run, err error) {
	if r.revision == "" {
		return // no source yet: nothing to remember
	}
	e := kustomizev1.HistoryEntry{
		Digest:         r.digest,
		Revision:       r.revision,
		OriginRevision: r.origin,
		Time:           metav1.NewTime(time.Now().Truncate(time.Second)),
		Duration:       metav1.Duration{Duration: time.Since(r.start).Round(time.Millisecond)},
		Outcome:        outcome(err),
	}
	if h := obj.Status.History; len(h) > 0 && h[0].Digest == e.Digest && h[0].Revision == e.Revision && h[0].Outcome == e.Outcome {
		return
	}
	obj.Status.History = append([]kustomizev1.HistoryEntry{e}, obj.Status.History...)
	if len(obj.Status.History) > maxHistory {
		obj.Status.History = obj.Status.History[:maxHistory]
	}
}

// outcome is the Ready reason a reconcile error leads to.
func outcome(err error) string {
	var (
		stalled *reconcile.StalledError
		waiting *reconcile.WaitError
		failed  *reconcile.ReasonError
	)
	switch {
	case err == nil:
		return conditions.SucceededReason
	case errors.As(err, &stalled):
		return stalled.Reason
	case errors.As(err, &waiting):
		return waiting.Reason
	case errors.As(err, &failed):
		return failed.Reason
	}
	return conditions.FailedReason
}

// changedObjects names the objects an apply created, configured or
// recreated.
func changedObjects(cs *ssa.ChangeSet) []string {
	var out []string
	for _, c := range cs.Changes {
		switch c.Action {
		case ssa.ActionCreated, ssa.ActionConfigured, ssa.ActionRecreated:
			out = append(out, c.ID.String())
		}
	}
	return out
}

// changeSummary says what an apply and prune changed ("2 created, 1
// configured, 1 deleted"), or "" when nothing changed.
func changeSummary(cs *ssa.ChangeSet, deleted int) string {
	var parts []string
	for _, c := range []struct {
		n    int
		verb string
	}{
		{cs.Count(ssa.ActionCreated), "created"},
		{cs.Count(ssa.ActionConfigured), "configured"},
		{cs.Count(ssa.ActionRecreated), "recreated"},
		{deleted, "deleted"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.verb))
		}
	}
	return strings.Join(parts, ", ")
}

// summarise lists up to max names, then how many more.
func summarise(names []string, max int) string {
	if len(names) <= max {
		return fmt.Sprintf("%d objects: %s", len(names), strings.Join(names, ", "))
	}
	return fmt.Sprintf("%d objects: %s and %d more", len(names), strings.Join(names[:max], ", "), len(names)-max)
}

// healthRules translates spec.healthCheckExprs into ssa health rules.
func healthRules(checks []kustomizev1.CustomHealthCheck) []ssa.HealthRule {
	out := make([]ssa.HealthRule, 0, len(checks))
	for _, c := range checks {
		gv, _ := schema.ParseGroupVersion(c.APIVersion)
		out = append(out, ssa.HealthRule{Group: gv.Group, Kind: c.Kind, Current: c.Current, InProgress: c.InProgress, Failed: c.Failed})
	}
	return out
}
