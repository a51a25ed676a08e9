// Package controller holds gitopsd's reconcilers: GitRepository,
// OCIRepository and Bucket (package source), Kustomization (package
// kustomize), Provider and Alert (package notification, with the Alerts
// gitopsd's event hub routes by), HelmRelease (package helm),
// ImageRepository, ImagePolicy and ImageUpdateAutomation (package image).
//
// This file carries the RBAC markers from which make generate writes
// config/rbac/role.yaml: the permissions gitopsd needs for its own objects.
// Applying a Kustomization's objects needs whatever those objects need;
// config/rbac binds cluster-admin for that, as Flux does, and
// spec.serviceAccountName narrows it per Kustomization by impersonation.
//
// Secrets and ConfigMaps (credentials, decryption keys, postBuild
// variables), ServiceAccounts (the image pull secrets an OCIRepository's
// serviceAccountName names) and Namespaces (the labels a
// --cross-namespace-selector matches) are read one at a time and never
// cached (UncachedObjects), so gitopsd only needs get on them: no list or
// watch of every Secret in the cluster. The one exception is the
// HelmRelease controller's watch of the ConfigMaps and Secrets labelled
// reconcile.gitopskit.dev/watch=Enabled (valuesFrom changes): its informer
// lists and watches by that label only and keeps no data, but RBAC cannot
// grant list and watch by label, hence list;watch on both.
//
// Lifecycle is the part of a reconcile the reconcilers share: reading the
// object, runtime/metrics series, suspend, finalizer, conditions and the
// status write, with a recovered panic recorded as a failure. Its Reporter
// writes progress while a reconcile works and masks secret values in every
// message (MaskValues).
package controller

// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=gitrepositories;ocirepositories,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=gitrepositories/status;ocirepositories/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=gitrepositories/finalizers;ocirepositories/finalizers,verbs=update
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=buckets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=buckets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=buckets/finalizers,verbs=update
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=helmrepositories;helmcharts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=helmrepositories/status;helmcharts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=helmrepositories/finalizers;helmcharts/finalizers,verbs=update
// +kubebuilder:rbac:groups=kustomize.gitopskit.dev,resources=kustomizations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kustomize.gitopskit.dev,resources=kustomizations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kustomize.gitopskit.dev,resources=kustomizations/finalizers,verbs=update
// +kubebuilder:rbac:groups=notification.gitopskit.dev,resources=providers;alerts;receivers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=notification.gitopskit.dev,resources=providers/status;alerts/status;receivers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=notification.gitopskit.dev,resources=providers/finalizers;alerts/finalizers;receivers/finalizers,verbs=update
// +kubebuilder:rbac:groups=helm.gitopskit.dev,resources=helmreleases,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=helm.gitopskit.dev,resources=helmreleases/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=helm.gitopskit.dev,resources=helmreleases/finalizers,verbs=update
// +kubebuilder:rbac:groups=source.gitopskit.dev,resources=helmcharts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=image.gitopskit.dev,resources=imagerepositories;imagepolicies;imageupdateautomations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=image.gitopskit.dev,resources=imagerepositories/status;imagepolicies/status;imageupdateautomations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=image.gitopskit.dev,resources=imagerepositories/finalizers;imagepolicies/finalizers;imageupdateautomations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps;namespaces,verbs=get
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;impersonate
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations;mutatingadmissionpolicies,verbs=list
// +kubebuilder:rbac:urls=/openapi/v3;/openapi/v3/*,verbs=get
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
