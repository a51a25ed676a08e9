// Package testapi holds a small custom resource type, Gadget, for the tests of
// the runtime packages: it has a status subresource, conditions,
// observedGeneration, lastHandledReconcileAt and suspend, like the objects of
// a real gitopskit controller.
package testapi

import (
	_ "embed"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

//go:embed crd.yaml
var crdYAML []byte

// GroupVersion of Gadget.
var GroupVersion = schema.GroupVersion{Group: "runtime.test.gitopskit.dev", Version: "v1"}

// CRD returns the Gadget CustomResourceDefinition.
func CRD() *apiextensionsv1.CustomResourceDefinition {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(crdYAML, crd); err != nil {
		panic(fmt.Sprintf("testapi: embedded CRD: %v", err))
	}
	return crd
}

// AddToScheme registers Gadget and GadgetList.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Gadget{}, &GadgetList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Gadget is the test custom resource.
type Gadget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GadgetSpec   `json:"spec,omitempty"`
	Status            GadgetStatus `json:"status,omitempty"`
}

// GadgetSpec is the desired state.
type GadgetSpec struct {
	Size      int64    `json:"size,omitempty"`
	Suspend   bool     `json:"suspend,omitempty"`
	DependsOn []string `json:"dependsOn,omitempty"`
}

// GadgetStatus is the observed state.
type GadgetStatus struct {
	ObservedGeneration     int64              `json:"observedGeneration,omitempty"`
	LastHandledReconcileAt string             `json:"lastHandledReconcileAt,omitempty"`
	Revision               string             `json:"revision,omitempty"`
	Conditions             []metav1.Condition `json:"conditions,omitempty"`
}

// GetConditions implements conditions.Getter.
func (g *Gadget) GetConditions() []metav1.Condition { return g.Status.Conditions }

// SetConditions implements conditions.Setter.
func (g *Gadget) SetConditions(c []metav1.Condition) { g.Status.Conditions = c }

// GetLastHandledReconcileAt implements reconcile.RequestStatus.
func (g *Gadget) GetLastHandledReconcileAt() string { return g.Status.LastHandledReconcileAt }

// SetLastHandledReconcileAt implements reconcile.RequestStatus.
func (g *Gadget) SetLastHandledReconcileAt(v string) { g.Status.LastHandledReconcileAt = v }

// IsSuspended implements reconcile.Suspender.
func (g *Gadget) IsSuspended() bool { return g.Spec.Suspend }

// DeepCopyInto copies g into out.
func (g *Gadget) DeepCopyInto(out *Gadget) {
	*out = *g
	out.TypeMeta = g.TypeMeta
	g.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.DependsOn = append([]string(nil), g.Spec.DependsOn...)
	if g.Status.Conditions != nil {
		out.Status.Conditions = make([]metav1.Condition, len(g.Status.Conditions))
		for i := range g.Status.Conditions {
			g.Status.Conditions[i].DeepCopyInto(&out.Status.Conditions[i])
		}
	}
}

// DeepCopy returns a copy of g.
func (g *Gadget) DeepCopy() *Gadget {
	if g == nil {
		return nil
	}
	out := &Gadget{}
	g.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (g *Gadget) DeepCopyObject() runtime.Object { return g.DeepCopy() }

// GadgetList is a list of Gadgets.
type GadgetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Gadget `json:"items"`
}

// DeepCopyObject implements runtime.Object.
func (l *GadgetList) DeepCopyObject() runtime.Object {
	out := &GadgetList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	for i := range l.Items {
		out.Items = append(out.Items, *l.Items[i].DeepCopy())
	}
	return out
}
