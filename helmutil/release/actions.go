package release

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
)

// release runs an install or an upgrade of req.
func (r *Runner) release(ctx context.Context, a Action, req Request, digest string, cur *rel.Release, st *Status) error {
	spec := req.Spec
	sum, err := req.valuesChecksum()
	if err != nil {
		return fmt.Errorf("%w: values: %v", ErrInvalidSpec, err)
	}
	st.LastAttemptedAction = a
	st.LastAttemptedConfigDigest = digest
	st.LastAttemptedRevision = req.Chart.Metadata.Version
	st.LastAttemptedValuesChecksum = sum

	// The action's context ends with the action, so that whatever Helm
	// leaves running in the background sends nothing more.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e := r.newEnv(ctx, req.Release, spec, req.Sensitive)
	timeout, policy := spec.timeout(spec.Install.Timeout), spec.Install.CRDs
	if policy == "" {
		policy = CRDsCreate
	}
	if a == ActionUpgrade {
		timeout, policy = spec.timeout(spec.Upgrade.Timeout), spec.Upgrade.CRDs
		if policy == "" {
			policy = CRDsSkip
		}
	}
	fail := func(err error) error {
		if !interrupted(ctx, err) {
			r.countFailure(st, a)
		}
		return e.actionError(a, req.Release, err)
	}
	if err := r.applyCRDs(ctx, req.Chart, policy, timeout); err != nil {
		return fail(fmt.Errorf("CRDs (%s): %w", policy, err))
	}
	pr, err := r.postRenderer(ctx, spec.PostRender, e.mask)
	if err != nil {
		return fail(err)
	}
	ch, vals := copyChart(req.Chart), deepCopy(req.Values)
	labels := map[string]string{ConfigDigestLabel: digest}
	switch a {
	case ActionInstall:
		in := action.NewInstall(e.cfg)
		in.ReleaseName, in.Namespace = req.Release.Name, req.Release.Namespace
		in.Timeout = timeout
		in.WaitStrategy, in.WaitForJobs = waitStrategy(spec.Install.DisableWait), !spec.Install.DisableWait && !spec.Install.DisableWaitForJobs
		in.DisableHooks = spec.Install.DisableHooks
		in.DisableOpenAPIValidation = spec.Install.DisableOpenAPIValidation
		in.SkipSchemaValidation = spec.Install.DisableSchemaValidation
		in.SkipCRDs = true // applied above, by policy
		in.CreateNamespace = spec.Install.CreateNamespace
		in.Replace = spec.Install.Replace || (cur != nil && cur.Info.Status == rcommon.StatusUninstalled)
		in.TakeOwnership = !spec.Install.DisableTakeOwnership
		in.ServerSideApply, in.ForceConflicts = true, true
		in.Labels = labels
		if pr != nil {
			in.PostRenderer, in.PostRenderStrategy = pr, action.PostRenderStrategyNoHooks
		}
		_, err = in.RunWithContext(ctx, ch, vals)
	case ActionUpgrade:
		up := action.NewUpgrade(e.cfg)
		up.Namespace = req.Release.Namespace
		up.Timeout = timeout
		up.WaitStrategy, up.WaitForJobs = waitStrategy(spec.Upgrade.DisableWait), !spec.Upgrade.DisableWait && !spec.Upgrade.DisableWaitForJobs
		up.DisableHooks = spec.Upgrade.DisableHooks
		up.DisableOpenAPIValidation = spec.Upgrade.DisableOpenAPIValidation
		up.SkipSchemaValidation = spec.Upgrade.DisableSchemaValidation
		up.ForceReplace = spec.Upgrade.Force
		up.ReuseValues, up.ResetValues = spec.Upgrade.PreserveValues, !spec.Upgrade.PreserveValues
		up.CleanupOnFail = spec.Upgrade.CleanupOnFail
		up.TakeOwnership = !spec.Upgrade.DisableTakeOwnership
		up.MaxHistory = spec.maxHistory()
		up.ServerSideApply, up.ForceConflicts = "true", true
		up.Labels = labels
		if pr != nil {
			up.PostRenderer, up.PostRenderStrategy = pr, action.PostRenderStrategyNoHooks
		}
		_, err = up.RunWithContext(ctx, req.Release.Name, ch, vals)
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// test runs the release's test hooks.
func (r *Runner) test(ctx context.Context, req Request, cur *rel.Release, st *Status) error {
	spec := req.Spec
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e := r.newEnv(ctx, req.Release, spec, req.Sensitive)
	t := action.NewReleaseTesting(e.cfg)
	t.Timeout = spec.timeout(spec.Test.Timeout)
	t.Namespace = req.Release.Namespace
	for _, f := range spec.Test.Filters {
		k := action.IncludeNameFilter
		if f.Exclude {
			k = action.ExcludeNameFilter
		}
		t.Filters[k] = append(t.Filters[k], f.Name)
	}
	_, shutdown, err := t.Run(req.Release.Name)
	if shutdown != nil {
		// Deletes the hooks their deletion policies ask to delete.
		if serr := shutdown(); serr != nil && err == nil {
			err = serr
		}
	}
	if err == nil {
		return nil
	}
	if interrupted(ctx, err) {
		return e.actionError(ActionTest, req.Release, err)
	}
	a := st.LastAttemptedAction
	if a != ActionInstall {
		a = ActionUpgrade
	}
	if spec.ignoreTestFailures(a) {
		return nil // the snapshot shows the failed test
	}
	r.countFailure(st, a)
	return e.actionError(ActionTest, req.Release, err)
}

// rollback rolls the release back to revision to.
func (r *Runner) rollback(ctx context.Context, req Request, to int, st *Status) error {
	spec := req.Spec
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e := r.newEnv(ctx, req.Release, spec, req.Sensitive)
	rb := action.NewRollback(e.cfg)
	rb.Version = to
	rb.Timeout = spec.timeout(spec.Rollback.Timeout)
	rb.WaitStrategy, rb.WaitForJobs = waitStrategy(spec.Rollback.DisableWait), !spec.Rollback.DisableWait && !spec.Rollback.DisableWaitForJobs
	rb.DisableHooks = spec.Rollback.DisableHooks
	rb.ForceReplace = spec.Rollback.Force
	rb.CleanupOnFail = spec.Rollback.CleanupOnFail
	rb.MaxHistory = spec.maxHistory()
	rb.ServerSideApply, rb.ForceConflicts = "true", true
	if err := rb.Run(req.Release.Name); err != nil {
		if !interrupted(ctx, err) {
			st.Failures++
		}
		return e.actionError(ActionRollback, req.Release, err)
	}
	return nil
}

// uninstall uninstalls ref.
func (r *Runner) uninstall(ctx context.Context, ref Ref, spec Spec, sensitive []string, remediation bool, st *Status) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e := r.newEnv(ctx, ref, spec, sensitive)
	un := action.NewUninstall(e.cfg)
	un.DisableHooks = spec.Uninstall.DisableHooks
	un.KeepHistory = spec.Uninstall.KeepHistory
	un.Timeout = spec.timeout(spec.Uninstall.Timeout)
	un.WaitStrategy = waitStrategy(spec.Uninstall.DisableWait)
	un.DeletionPropagation = spec.Uninstall.DeletionPropagation
	if un.DeletionPropagation == "" {
		un.DeletionPropagation = "background"
	}
	un.IgnoreNotFound = true
	if _, err := un.Run(ref.Name); err != nil {
		if remediation && !interrupted(ctx, err) {
			st.Failures++
		}
		return e.actionError(ActionUninstall, ref, err)
	}
	return nil
}

// Uninstall uninstalls the release ref as spec.Uninstall says (the end of
// a HelmRelease): its hooks run, its objects are deleted and awaited, its
// records purged or, with KeepHistory, kept marked uninstalled. A release
// that does not exist is not an error. st, when not nil, records the
// outcome (an emptied history when the records are purged).
func (r *Runner) Uninstall(ctx context.Context, ref Ref, spec Spec, st *Status) error {
	if err := validateName(ref.Name); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	if st == nil {
		st = &Status{}
	}
	if err := r.uninstall(ctx, ref, spec, nil, false, st); err != nil {
		return err
	}
	hist, err := r.history(context.WithoutCancel(ctx), ref)
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		st.History = nil
		return nil
	}
	st.record(*snapshot(hist[len(hist)-1]), spec.maxHistory())
	return nil
}

// unlock marks a release record left pending by an interrupted action as
// failed. The interruption is not counted as a failure of the desired
// state: Plan retries the action.
func (r *Runner) unlock(ctx context.Context, req Request, cur *rel.Release) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	was := cur.Info.Status
	cur.Info.Status = rcommon.StatusFailed
	cur.Info.Description = fmt.Sprintf("Release was left %s by an interrupted action; marked failed by helmutil", was)
	store := r.storage(req.Release, 0, nil)
	if err := store.Update(cur); err != nil {
		return &ActionError{Action: ActionUnlock, Release: req.Release, Revision: cur.Version, Err: err}
	}
	return nil
}

// actionError wraps an action's error: masked, and classified.
func (e *env) actionError(a Action, ref Ref, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	var he *HookError
	switch {
	case errors.As(err, &he) || e.kube.hookErr.Load() != nil:
		kind = ErrHookFailed
		if a == ActionTest {
			kind = ErrTestFailed
		}
	case errors.Is(err, ErrPostRender):
		kind = ErrPostRender
	case (a == ActionInstall || a == ActionUpgrade) && e.reached.Load() && !e.built.Load() && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		kind = ErrRender
	}
	return &ActionError{Action: a, Release: ref, Kind: kind, Err: e.mask.Err(err)}
}

// copyChart copies what Helm's actions change of a chart (its values, its
// dependencies list, its metadata), recursively, sharing the file data.
func copyChart(c *chart.Chart) *chart.Chart {
	if c == nil {
		return nil
	}
	out := *c
	out.Values = deepCopy(c.Values)
	if c.Metadata != nil {
		md := *c.Metadata
		md.Annotations = maps.Clone(c.Metadata.Annotations)
		md.Dependencies = nil
		for _, d := range c.Metadata.Dependencies {
			dep := *d
			md.Dependencies = append(md.Dependencies, &dep)
		}
		out.Metadata = &md
	}
	deps := make([]*chart.Chart, 0, len(c.Dependencies()))
	for _, d := range c.Dependencies() {
		deps = append(deps, copyChart(d))
	}
	out.SetDependencies(deps...)
	return &out
}

// deepCopy copies the maps and lists of JSON-like values.
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopy(t)
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = deepCopyValue(c)
		}
		return out
	}
	return v
}
