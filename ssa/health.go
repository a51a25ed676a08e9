package ssa

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// HealthRule decides the status of one kind with CEL expressions evaluated
// against the object, bound to the variable `self` (for example
// `has(self.status) && self.status.phase == "Ready"`). The rules are tried in
// the order Failed, Current, InProgress; the first that yields true decides.
// When none does (or an expression errors, for example on a missing field),
// the object is InProgress. An empty expression is never true.
type HealthRule struct {
	Group, Kind string
	Current     string
	InProgress  string
	Failed      string
}

// maxExpression bounds the length of a health-rule expression.
const maxExpression = 4 << 10

type compiledRule struct {
	current, inProgress, failed cel.Program
}

func compileRules(rules []HealthRule) (map[schema.GroupKind]*compiledRule, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	env, err := cel.NewEnv(cel.Variable("self", cel.DynType))
	if err != nil {
		return nil, fmt.Errorf("health rules: %w", err)
	}
	out := map[schema.GroupKind]*compiledRule{}
	for _, r := range rules {
		gk := schema.GroupKind{Group: r.Group, Kind: r.Kind}
		if r.Kind == "" {
			return nil, fmt.Errorf("health rule for group %q: kind is empty", r.Group)
		}
		cr := &compiledRule{}
		for _, e := range []struct {
			expr string
			prg  *cel.Program
			name string
		}{{r.Current, &cr.current, "current"}, {r.InProgress, &cr.inProgress, "inProgress"}, {r.Failed, &cr.failed, "failed"}} {
			if e.expr == "" {
				continue
			}
			if len(e.expr) > maxExpression {
				return nil, fmt.Errorf("health rule %s %s: expression longer than %d bytes", gk, e.name, maxExpression)
			}
			ast, iss := env.Compile(e.expr)
			if iss.Err() != nil {
				return nil, fmt.Errorf("health rule %s %s: %w", gk, e.name, iss.Err())
			}
			prg, err := env.Program(ast, cel.CostLimit(1_000_000))
			if err != nil {
				return nil, fmt.Errorf("health rule %s %s: %w", gk, e.name, err)
			}
			*e.prg = prg
		}
		out[gk] = cr
	}
	return out, nil
}

func evalBool(prg cel.Program, obj map[string]any) (bool, error) {
	if prg == nil {
		return false, nil
	}
	v, _, err := prg.Eval(map[string]any{"self": obj})
	if err != nil {
		return false, err
	}
	b, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("expression returned %T, not bool", v.Value())
	}
	return b, nil
}

// computeStatus returns an object's status; obj nil means absent.
func computeStatus(id ObjectID, obj *unstructured.Unstructured, rules map[schema.GroupKind]*compiledRule) ObjectStatus {
	if obj == nil {
		return ObjectStatus{ID: id, Status: StatusNotFound, Message: "not found"}
	}
	if r := rules[id.GroupKind()]; r != nil && obj.GetDeletionTimestamp() == nil {
		var lastErr error
		for _, c := range []struct {
			prg cel.Program
			st  Status
		}{{r.failed, StatusFailed}, {r.current, StatusCurrent}, {r.inProgress, StatusInProgress}} {
			ok, err := evalBool(c.prg, obj.Object)
			if err != nil {
				lastErr = err
				continue
			}
			if ok {
				return ObjectStatus{ID: id, Status: c.st, Message: "health rule " + string(c.st)}
			}
		}
		msg := "no health rule matched"
		if lastErr != nil {
			msg += ": " + lastErr.Error()
		}
		return ObjectStatus{ID: id, Status: StatusInProgress, Message: msg}
	}
	res, err := status.Compute(obj)
	if err != nil {
		return ObjectStatus{ID: id, Status: StatusUnknown, Message: err.Error()}
	}
	st := ObjectStatus{ID: id, Status: Status(res.Status), Message: res.Message}
	if st.Status == StatusTerminating || st.Status == StatusFailed {
		return st
	}
	if c := condition(obj, "Stalled"); c != nil && c["status"] == "True" {
		return ObjectStatus{ID: id, Status: StatusFailed, Message: fmt.Sprintf("Stalled: %v", c["message"])}
	}
	if id.GroupKind() == (schema.GroupKind{Group: "batch", Kind: "Job"}) && st.Status == StatusCurrent {
		if c := condition(obj, "Complete"); c == nil || c["status"] != "True" {
			return ObjectStatus{ID: id, Status: StatusInProgress, Message: "Job not complete: " + res.Message}
		}
	}
	return st
}

func condition(obj *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}
