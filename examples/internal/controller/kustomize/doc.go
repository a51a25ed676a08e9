// Package kustomize is gitopsd's Kustomization controller: it keeps the
// kustomize build of a folder of a source artifact applied to the cluster,
// the way Flux's kustomize-controller does, assembled from the toolkit's
// public modules only.
//
// For each Kustomization, KustomizationReconciler:
//
//   - resolves spec.sourceRef (a GitRepository or OCIRepository, in the
//     Kustomization's namespace unless another one is named and the
//     cross-namespace policy allows it) and waits until it has an artifact;
//   - waits until every spec.dependsOn Kustomization is ready (Ready=True at
//     its current generation, or its readyExpr CEL expression holds);
//   - downloads the artifact with artifact/fetch (digest verified, bounded
//     untar) into a temporary folder;
//   - builds spec.path with the kustomize module, layering targetNamespace,
//     namePrefix/nameSuffix, patches, images and components on top,
//     decrypting SOPS files with the keys of spec.decryption.secretRef and
//     substituting ${var} references from spec.postBuild;
//   - applies the objects with ssa as field manager "gitopsd", impersonating
//     spec.serviceAccountName when set, prunes the objects that left the
//     build (spec.prune) and records them in status.inventory;
//   - waits for the applied objects (spec.wait) or spec.healthChecks and
//     reports the Healthy condition.
//
// A failure before the apply (source, fetch, build, substitution,
// decryption) changes nothing on the cluster: nothing is pruned unless a
// build succeeded and was applied. Conditions follow runtime/reconcile:
// Ready, Reconciling, Stalled and Healthy.
//
// A Kustomization is reconciled again on its interval, as soon as its
// source's artifact changes (a watch on GitRepositories and OCIRepositories,
// found through a field index on sourceRef), as soon as a Kustomization it
// depends on becomes ready, and when its reconcile-request annotation
// changes. On deletion the objects of its inventory are deleted or orphaned
// as spec.deletionPolicy says.
package kustomize
