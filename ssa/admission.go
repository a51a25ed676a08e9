package ssa

import (
	"context"
	"errors"
	"fmt"
	"slices"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// admissionRule is one mutating webhook or mutating admission policy, as
// far as the local decision needs it: which updates it may intercept. It
// over-approximates: namespace selectors and match conditions are taken to
// match, and with the default match policy (Equivalent) a rule naming a
// resource in any group matches that resource name in every group.
type admissionRule struct {
	name       string
	groups     []string // "*" matches any
	resources  []string // "*", "*/*", "<resource>", "<resource>/*"
	operations []string // "*", "UPDATE", ...
	anyGroup   bool
	selector   labels.Selector // nil matches every object
}

// mutates reports whether the rule may be called for an update of an
// object of gr whose old or new labels are given.
func (r admissionRule) mutates(gr schema.GroupResource, old, new map[string]string) bool {
	if !slices.Contains(r.operations, "*") && !slices.Contains(r.operations, string(admissionv1.Update)) {
		return false
	}
	if !r.anyGroup && !slices.Contains(r.groups, "*") && !slices.Contains(r.groups, gr.Group) {
		return false
	}
	res := false
	for _, x := range r.resources {
		if x == "*" || x == "*/*" || x == gr.Resource || x == gr.Resource+"/*" {
			res = true
			break
		}
	}
	if !res {
		return false
	}
	return r.selector == nil || r.selector.Matches(labels.Set(old)) || r.selector.Matches(labels.Set(new))
}

// mutatingRules lists the cluster's mutating webhooks and mutating
// admission policies.
func mutatingRules(ctx context.Context, c client.Reader) ([]admissionRule, error) {
	var out []admissionRule
	hooks := &admissionv1.MutatingWebhookConfigurationList{}
	if err := c.List(ctx, hooks); err != nil {
		return nil, fmt.Errorf("listing mutating webhook configurations: %w", err)
	}
	for _, cfg := range hooks.Items {
		for _, w := range cfg.Webhooks {
			out = append(out, ruleOf("MutatingWebhookConfiguration "+cfg.Name+" webhook "+w.Name,
				w.Rules, w.MatchPolicy, w.ObjectSelector))
		}
	}
	policies, err := mutatingPolicies(ctx, c)
	if err != nil {
		return nil, err
	}
	return append(out, policies...), nil
}

func ruleOf(name string, rules []admissionv1.RuleWithOperations, policy *admissionv1.MatchPolicyType, sel *metav1.LabelSelector) admissionRule {
	r := admissionRule{name: name, anyGroup: policy == nil || *policy != admissionv1.Exact}
	for _, x := range rules {
		r.groups = append(r.groups, x.APIGroups...)
		r.resources = append(r.resources, x.Resources...)
		for _, op := range x.Operations {
			r.operations = append(r.operations, string(op))
		}
	}
	if sel != nil {
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
			r.selector = s
		}
	}
	return r
}

// mutatingPolicies lists MutatingAdmissionPolicies in whichever version
// the server serves; a server without them has none.
func mutatingPolicies(ctx context.Context, c client.Reader) ([]admissionRule, error) {
	var list *unstructured.UnstructuredList
	var err error
	for _, v := range []string{"v1", "v1beta1", "v1alpha1"} {
		list = &unstructured.UnstructuredList{}
		list.SetAPIVersion(admissionv1.SchemeGroupVersion.Group + "/" + v)
		list.SetKind("MutatingAdmissionPolicyList")
		if err = c.List(ctx, list); err == nil || !meta.IsNoMatchError(err) {
			break
		}
	}
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing mutating admission policies: %w", err)
	}
	var out []admissionRule
	for _, u := range list.Items {
		p := &admissionv1.MutatingAdmissionPolicy{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, p); err != nil {
			return nil, fmt.Errorf("mutating admission policy %s: %w", u.GetName(), err)
		}
		mc := p.Spec.MatchConstraints
		if mc == nil {
			// nothing says what it matches: assume everything
			out = append(out, admissionRule{name: "MutatingAdmissionPolicy " + p.Name, groups: []string{"*"}, resources: []string{"*"}, operations: []string{"*"}})
			continue
		}
		var rules []admissionv1.RuleWithOperations
		for _, r := range mc.ResourceRules {
			rules = append(rules, r.RuleWithOperations)
		}
		out = append(out, ruleOf("MutatingAdmissionPolicy "+p.Name, rules, mc.MatchPolicy, mc.ObjectSelector))
	}
	return out, nil
}

// errMutatingAdmission reports that an admission webhook or policy may
// change the object on update.
var errMutatingAdmission = errors.New("a mutating admission webhook or policy may change it")

// admits returns nil when no mutating admission may intercept an update of
// an object of gr with the given old and new labels.
func (v *schemaView) admits(gr schema.GroupResource, old, new map[string]string) error {
	if v.admissionErr != nil {
		return v.admissionErr
	}
	for _, r := range v.admission {
		if r.mutates(gr, old, new) {
			return fmt.Errorf("%w (%s)", errMutatingAdmission, r.name)
		}
	}
	return nil
}

// sameVersion is the object converter of the local field manager: objects
// are read and applied in one version, so it converts nothing and refuses
// any real conversion (managed fields recorded in another version, say),
// which makes the local decision fall back to the API server.
type sameVersion struct{}

func (sameVersion) Convert(in, out, context any) error {
	return errors.New("conversion not supported locally")
}

func (sameVersion) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	gvk := in.GetObjectKind().GroupVersionKind()
	if target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && target == gvk {
		return in, nil
	}
	return nil, fmt.Errorf("converting %s locally is not supported", gvk)
}

func (sameVersion) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return "", "", errors.New("field labels not supported locally")
}

// noDefaults is the local field manager's defaulter: it defaults nothing.
// The live object is already defaulted; an apply whose merge differs from
// it at all (where the server would default again) is not decided
// locally.
type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}
