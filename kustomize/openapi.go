package kustomize

import (
	"context"
	"fmt"

	"golang.org/x/sync/semaphore"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// schemaSem confines the one piece of process-wide state a kustomize build
// can change: kyaml's OpenAPI schema (package variables of kyaml/openapi,
// which kustomize sets from a kustomization's `openapi:` field and never
// restores; a custom schema even survives a later reset to the default).
//
// It is a readers-writer lock that honours contexts. Builds that keep the
// default schema share it (weight 1 each). A build in which any
// kustomization, at any depth, sets `openapi:` is detected by the
// filesystem as the kustomization is read (errExclusive) and runs again
// holding the whole weight, alone: it starts from a fresh default schema (so
// a custom one adds to the built-in Kubernetes types, as in Flux) and the
// schema is reset when it ends, even if it panics. No other build of this
// package can observe it. Waiting for the schema ends with the build's
// context, so a build that never returns (one allowed to fetch remote bases
// may wait on the network) cannot block the others for longer than their
// own deadline.
var schemaSem = semaphore.NewWeighted(schemaWeight)

const schemaWeight = 1 << 30

// holdSchema takes the schema for one build and returns its release.
func holdSchema(ctx context.Context, exclusive bool) (release func(), err error) {
	if !exclusive {
		if err := schemaSem.Acquire(ctx, 1); err != nil {
			return nil, fmt.Errorf("waiting for a build that sets an OpenAPI schema: %w", err)
		}
		return func() { schemaSem.Release(1) }, nil
	}
	if err := schemaSem.Acquire(ctx, schemaWeight); err != nil {
		return nil, fmt.Errorf("waiting for other builds to set an OpenAPI schema alone: %w", err)
	}
	openapi.ResetOpenAPI()
	_ = openapi.Schema() // the built-in types first
	return func() {
		openapi.ResetOpenAPI()
		schemaSem.Release(schemaWeight)
	}, nil
}
