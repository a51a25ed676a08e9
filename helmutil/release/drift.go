package release

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	rel "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/kit/helmutil/internal/mask"
	"github.com/gitopskit/kit/ssa"
)

// DriftDetectionAnnotation set to "disabled" on an object of a chart
// leaves it out of drift detection and correction.
const DriftDetectionAnnotation = "helmutil.gitopskit.dev/drift-detection"

// driftCandidates are the objects of a revision that drift detection
// looks at: all but those opted out.
func (r *Runner) driftCandidates(cur *rel.Release) ([]*unstructured.Unstructured, error) {
	objs, err := r.objects(cur)
	if err != nil {
		return nil, err
	}
	out := objs[:0]
	for _, o := range objs {
		if o.GetAnnotations()[DriftDetectionAnnotation] == "disabled" {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// detectDrift compares the current revision's objects with the cluster
// through ssa.Manager.Diff (the Spec's ignore rules; the fields other
// field managers own left out unless Drift.IncludeOthersFields). Fields
// changed by hand with kubectl and its kin, whose managers then own them,
// are drift, as are fields the release still owns.
func (r *Runner) detectDrift(ctx context.Context, req Request, cur *rel.Release) (*DriftReport, error) {
	objs, err := r.driftCandidates(cur)
	if err != nil {
		return nil, err
	}
	report := &DriftReport{}
	if len(objs) == 0 {
		return report, nil
	}
	diffs, err := r.ssa.Diff(ctx, objs, ssa.DiffOptions{
		DefaultNamespace:   cur.Namespace,
		IgnoreRules:        req.Spec.Drift.Ignore,
		IgnoreOthersFields: !req.Spec.Drift.IncludeOthersFields,
	})
	if err != nil {
		return nil, fmt.Errorf("drift detection of release %s: %w", req.Release, mask.New(req.Sensitive...).Err(err))
	}
	for _, d := range diffs {
		switch d.Action {
		case ssa.ActionCreated:
			report.Objects = append(report.Objects, DriftedObject{ID: d.ID, Action: ssa.ActionCreated})
		case ssa.ActionConfigured:
			var ops []struct {
				Path string `json:"path"`
			}
			if err := json.Unmarshal(d.Patch, &ops); err != nil {
				return nil, fmt.Errorf("drift detection of %s: reading the diff: %w", d.ID, err)
			}
			var paths []string
			for _, op := range ops {
				if !slices.Contains(paths, op.Path) {
					paths = append(paths, op.Path)
				}
			}
			report.Objects = append(report.Objects, DriftedObject{ID: d.ID, Action: ssa.ActionConfigured, Paths: paths})
		}
	}
	return report, nil
}

// correctDrift applies again, with ssa, the objects drift detection found
// changed or missing, and only those: not a Helm upgrade, no new revision.
// What is sent is the release's manifest (never a diff, so never a masked
// value); ignored fields keep their live values and, unless
// Drift.IncludeOthersFields, other managers keep their fields.
func (r *Runner) correctDrift(ctx context.Context, req Request, cur *rel.Release, drift *DriftReport) error {
	if drift == nil || len(drift.Objects) == 0 {
		return nil
	}
	objs, err := r.driftCandidates(cur)
	if err != nil {
		return err
	}
	drifted := map[ssa.ObjectID]bool{}
	for _, d := range drift.Objects {
		drifted[d.ID] = true
	}
	apply := objs[:0]
	for _, o := range objs {
		if drifted[ssa.IDOf(o)] {
			apply = append(apply, o)
		}
	}
	if len(apply) == 0 {
		return nil
	}
	_, err = r.ssa.Apply(ctx, apply, ssa.ApplyOptions{
		DefaultNamespace:   cur.Namespace,
		Timeout:            req.Spec.timeout(0),
		IgnoreRules:        req.Spec.Drift.Ignore,
		IgnoreOthersFields: !req.Spec.Drift.IncludeOthersFields,
	})
	if err != nil {
		return &ActionError{Action: ActionCorrectDrift, Release: req.Release, Revision: cur.Version, Err: mask.New(req.Sensitive...).Err(err)}
	}
	return nil
}
