package helm

import (
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/helmutil/values"
	"github.com/gitopskit/kit/ssa"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
)

// releaseRef is the release a HelmRelease makes.
func releaseRef(obj *helmv1.HelmRelease) release.Ref {
	return release.Ref{
		Name:             obj.GetReleaseName(),
		Namespace:        obj.GetReleaseNamespace(),
		StorageNamespace: obj.GetStorageNamespace(),
	}
}

// releaseSpec maps the HelmRelease's install, upgrade, test, rollback,
// uninstall, driftDetection, postRenderers, commonMetadata,
// healthCheckExprs, timeout and maxHistory onto helmutil/release's Spec,
// field for field.
func releaseSpec(obj *helmv1.HelmRelease) release.Spec {
	s := obj.Spec
	out := release.Spec{Timeout: dur(s.Timeout), MaxHistory: maxHistory(s.MaxHistory)}
	if i := s.Install; i != nil {
		out.Install = release.Install{
			Timeout: dur(i.Timeout), CRDs: release.CRDPolicy(i.CRDs), CreateNamespace: i.CreateNamespace, Replace: i.Replace,
			DisableHooks: i.DisableHooks, DisableWait: i.DisableWait, DisableWaitForJobs: i.DisableWaitForJobs,
			DisableOpenAPIValidation: i.DisableOpenAPIValidation, DisableSchemaValidation: i.DisableSchemaValidation,
			DisableTakeOwnership: i.DisableTakeOwnership,
		}
		if st := i.Strategy; st != nil {
			out.Install.Strategy, out.Install.RetryInterval = release.Strategy(st.Name), dur(st.RetryInterval)
		}
		if r := i.Remediation; r != nil {
			out.Install.Remediation = release.InstallRemediation{
				Retries: r.Retries, IgnoreTestFailures: r.IgnoreTestFailures,
				RemediateLastFailure: r.RemediateLastFailure != nil && *r.RemediateLastFailure,
			}
		}
	}
	if u := s.Upgrade; u != nil {
		out.Upgrade = release.Upgrade{
			Timeout: dur(u.Timeout), CRDs: release.CRDPolicy(u.CRDs),
			DisableHooks: u.DisableHooks, DisableWait: u.DisableWait, DisableWaitForJobs: u.DisableWaitForJobs,
			DisableOpenAPIValidation: u.DisableOpenAPIValidation, DisableSchemaValidation: u.DisableSchemaValidation,
			DisableTakeOwnership: u.DisableTakeOwnership, Force: u.Force, PreserveValues: u.PreserveValues, CleanupOnFail: u.CleanupOnFail,
		}
		if st := u.Strategy; st != nil {
			out.Upgrade.Strategy, out.Upgrade.RetryInterval = release.Strategy(st.Name), dur(st.RetryInterval)
		}
		if r := u.Remediation; r != nil {
			out.Upgrade.Remediation = release.UpgradeRemediation{
				Retries: r.Retries, IgnoreTestFailures: r.IgnoreTestFailures, RemediateLastFailure: r.RemediateLastFailure,
				Strategy: release.RemediationStrategy(r.Strategy),
			}
		}
	}
	if t := s.Test; t != nil {
		out.Test = release.Test{Enable: t.Enable, Timeout: dur(t.Timeout), IgnoreFailures: t.IgnoreFailures}
		for _, f := range t.Filters {
			out.Test.Filters = append(out.Test.Filters, release.TestFilter{Name: f.Name, Exclude: f.Exclude})
		}
	}
	if r := s.Rollback; r != nil {
		out.Rollback = release.Rollback{Timeout: dur(r.Timeout), DisableHooks: r.DisableHooks, DisableWait: r.DisableWait,
			DisableWaitForJobs: r.DisableWaitForJobs, Force: r.Force, CleanupOnFail: r.CleanupOnFail}
	}
	if u := s.Uninstall; u != nil {
		out.Uninstall = release.Uninstall{Timeout: dur(u.Timeout), DisableHooks: u.DisableHooks, KeepHistory: u.KeepHistory,
			DisableWait: u.DisableWait, DeletionPropagation: u.DeletionPropagation}
	}
	if d := s.DriftDetection; d != nil {
		out.Drift.Mode = release.DriftMode(d.Mode)
		for _, r := range d.Ignore {
			rule := ssa.IgnoreRule{Paths: r.Paths}
			if t := r.Target; t != nil {
				rule.Selector = ssa.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind,
					Namespace: t.Namespace, Name: t.Name, LabelSelector: t.LabelSelector}
			}
			out.Drift.Ignore = append(out.Drift.Ignore, rule)
		}
	}
	for _, pr := range s.PostRenderers {
		if pr.Kustomize == nil {
			continue
		}
		for _, p := range pr.Kustomize.Patches {
			patch := release.Patch{Patch: p.Patch}
			if t := p.Target; t != nil {
				patch.Target = &release.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name,
					Namespace: t.Namespace, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
			}
			out.PostRender.Patches = append(out.PostRender.Patches, patch)
		}
		for _, im := range pr.Kustomize.Images {
			out.PostRender.Images = append(out.PostRender.Images, release.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
		}
	}
	if cm := s.CommonMetadata; cm != nil {
		out.PostRender.Labels, out.PostRender.Annotations = cm.Labels, cm.Annotations
	}
	for _, c := range s.HealthCheckExprs {
		gv, _ := schema.ParseGroupVersion(c.APIVersion)
		out.HealthRules = append(out.HealthRules, ssa.HealthRule{Group: gv.Group, Kind: c.Kind, Current: c.Current, InProgress: c.InProgress, Failed: c.Failed})
	}
	return out
}

// maxHistory maps Flux's maxHistory (unset: 5, 0: unlimited) onto
// release.Spec's (0: 5, negative: unlimited).
func maxHistory(m *int) int {
	switch {
	case m == nil:
		return 0
	case *m == 0:
		return -1
	}
	return *m
}

func dur(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

// valuesReferences maps spec.valuesFrom onto helmutil/values' references.
func valuesReferences(obj *helmv1.HelmRelease) []values.Reference {
	out := make([]values.Reference, 0, len(obj.Spec.ValuesFrom))
	for _, v := range obj.Spec.ValuesFrom {
		out = append(out, values.Reference{Kind: v.Kind, Name: v.Name, ValuesKey: v.ValuesKey, TargetPath: v.TargetPath, Optional: v.Optional})
	}
	return out
}

// inlineValues decodes spec.values (a JSON object).
func inlineValues(obj *helmv1.HelmRelease) (map[string]any, error) {
	if obj.Spec.Values == nil || len(obj.Spec.Values.Raw) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(obj.Spec.Values.Raw, &m); err != nil {
		return nil, fmt.Errorf("spec.values is not a JSON object: %w", err)
	}
	return m, nil
}
