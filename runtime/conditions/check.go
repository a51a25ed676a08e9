package conditions

import (
	"fmt"
	"regexp"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Problem is one way in which an object's conditions break the conventions or
// would be misread by kstatus (and so by `kubectl wait`, Flux, Argo CD and
// every tool that computes status the same way).
type Problem struct {
	// Type is the condition type concerned; empty for the object as a whole.
	Type string
	// Message says what is wrong.
	Message string
}

func (p Problem) String() string {
	if p.Type == "" {
		return p.Message
	}
	return p.Type + ": " + p.Message
}

// reasonPattern is the API server's validation of metav1.Condition.Reason.
var reasonPattern = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// Check reports what in obj's conditions the API server would reject or
// kstatus would misread. obj is a typed object or *unstructured.Unstructured
// whose status.conditions are metav1.Conditions. An empty result means the
// conditions are sound.
//
// Besides validating each condition it checks the conventions kstatus relies
// on: Ready is present; Reconciling and Stalled are present only when True;
// Ready is not True while Reconciling or Stalled is; Stalled=True comes with
// Ready=False; and where Ready is True, kstatus computes Current (it would not
// if, for example, status.observedGeneration lags metadata.generation).
func Check(obj runtime.Object) []Problem {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return []Problem{{Message: fmt.Sprintf("cannot convert object to unstructured: %v", err)}}
		}
		u = &unstructured.Unstructured{Object: content}
	}
	getter := Unstructured(u)
	list := getter.GetConditions()
	var problems []Problem
	add := func(t, format string, args ...any) {
		problems = append(problems, Problem{Type: t, Message: fmt.Sprintf(format, args...)})
	}
	if raw, found, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "conditions"); found && raw != nil && list == nil {
		add("", "status.conditions is not a list of metav1.Condition")
		return problems
	}

	seen := map[string]bool{}
	for _, c := range list {
		if seen[c.Type] {
			add(c.Type, "condition type appears more than once")
		}
		seen[c.Type] = true
		for _, msg := range validation.IsQualifiedName(c.Type) {
			add(c.Type, "invalid type: %s", msg)
		}
		switch c.Status {
		case metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown:
		default:
			add(c.Type, "status %q is not True, False or Unknown", c.Status)
		}
		if !reasonPattern.MatchString(c.Reason) {
			add(c.Type, "reason %q must be CamelCase (%s)", c.Reason, reasonPattern)
		}
		if len(c.Message) > maxMessageLength {
			add(c.Type, "message is %d bytes, over the API server's limit of %d", len(c.Message), maxMessageLength)
		}
		if c.LastTransitionTime.IsZero() {
			add(c.Type, "lastTransitionTime is not set")
		}
		if c.ObservedGeneration > u.GetGeneration() {
			add(c.Type, "observedGeneration %d is ahead of metadata.generation %d", c.ObservedGeneration, u.GetGeneration())
		}
	}

	ready := Get(getter, Ready)
	if ready == nil {
		add(Ready, "missing: kstatus and users cannot tell whether the object is ready")
	}
	for _, t := range []string{Reconciling, Stalled} {
		if c := Get(getter, t); c != nil && c.Status != metav1.ConditionTrue {
			add(t, "present with status %s: negative-polarity conditions must be removed unless True", c.Status)
		}
	}
	if ready != nil && ready.Status == metav1.ConditionTrue {
		for _, t := range []string{Reconciling, Stalled} {
			if IsTrue(getter, t) {
				add(Ready, "True while %s is True: kstatus reports the object as not ready", t)
			}
		}
	}
	if IsTrue(getter, Stalled) && (ready == nil || ready.Status != metav1.ConditionFalse) {
		add(Stalled, "True while Ready is not False")
	}
	if ready != nil && ready.Status == metav1.ConditionTrue && len(problems) == 0 {
		res, err := kstatus.Compute(u)
		switch {
		case err != nil:
			add("", "kstatus cannot compute a status: %v", err)
		case res.Status != kstatus.CurrentStatus:
			add(Ready, "True but kstatus computes %s: %s", res.Status, res.Message)
		}
	}
	return problems
}
