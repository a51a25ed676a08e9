package gitopsctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/kit/kustomize"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/ssa"

	"github.com/gitopskit/kit/examples/config"
)

// fluxGroupSuffix ends the API groups of Flux's kinds.
const fluxGroupSuffix = ".toolkit.fluxcd.io"

// maxNodes bounds the YAML nodes one document may make convert visit,
// aliases followed: a document that expands past it (an alias bomb) is
// refused.
const maxNodes = 1_000_000

// errTooManyNodes is a document over maxNodes.
var errTooManyNodes = errors.New("too many YAML nodes (aliases expanding?)")

// fluxAnnotation says what one of Flux's annotation or label keys becomes.
type fluxAnnotation struct {
	key string
	// value maps Flux's value (lower-cased) to gitopsd's; nil keeps it.
	value map[string]string
}

// fluxAnnotations are Flux's annotations that gitopsd honours under
// another key.
var fluxAnnotations = map[string]fluxAnnotation{
	"reconcile.fluxcd.io/requestedAt": {key: reconcile.RequestedAtAnnotation},
	"reconcile.fluxcd.io/forceAt":     {key: reconcile.ForceAtAnnotation},
	"reconcile.fluxcd.io/resetAt":     {key: reconcile.ResetAtAnnotation},
	"kustomize.toolkit.fluxcd.io/ssa": {key: ssa.ApplyPolicyAnnotation, value: map[string]string{
		"merge": ssa.PolicyMerge, "ifnotpresent": ssa.PolicyIfNotPresent, "ignore": ssa.PolicyIgnore,
	}},
	"kustomize.toolkit.fluxcd.io/reconcile":  {key: ssa.ApplyPolicyAnnotation, value: map[string]string{"disabled": ssa.PolicyIgnore}},
	"kustomize.toolkit.fluxcd.io/prune":      {key: ssa.PruneAnnotation, value: map[string]string{"disabled": ssa.Disabled}},
	"kustomize.toolkit.fluxcd.io/force":      {key: ssa.RecreateAnnotation, value: map[string]string{"enabled": ssa.Enabled}},
	"kustomize.toolkit.fluxcd.io/substitute": {key: kustomize.SubstituteAnnotation, value: map[string]string{"disabled": kustomize.Disabled}},
}

// fluxLabels are Flux's labels with a gitopsd meaning.
var fluxLabels = map[string]string{
	"kustomize.toolkit.fluxcd.io/name":      kustomizeOwnerGroup + "/name",
	"kustomize.toolkit.fluxcd.io/namespace": kustomizeOwnerGroup + "/namespace",
	// A valuesFrom ConfigMap or Secret whose changes upgrade the
	// HelmReleases reading it (the value, Enabled, is the same).
	"reconcile.fluxcd.io/watch": "reconcile.gitopskit.dev/watch",
}

const kustomizeOwnerGroup = "kustomize.gitopskit.dev"

// issue is something convert could not carry over.
type issue struct {
	// Object names the object, e.g. "GitRepository default/podinfo".
	Object string
	// Field is the field path, e.g. "spec.provider"; empty for the whole
	// object.
	Field   string
	Message string
	// Line is the line of the field (or object) in its document, from 1.
	Line int
}

func (i issue) String() string {
	s := i.Object
	if i.Field != "" {
		s += ": " + i.Field
	}
	return s + ": " + i.Message
}

// converter rewrites Flux manifests into gitopsd's, checking every field
// of a converted object against the schema of gitopsd's CRD.
type converter struct {
	schemas map[schema.GroupVersionKind]*apiextensionsv1.JSONSchemaProps
}

// newConverter loads the schemas of gitopsd's CRDs (embedded).
func newConverter() (*converter, error) {
	crds, err := config.CRDs()
	if err != nil {
		return nil, err
	}
	cv := &converter{schemas: map[schema.GroupVersionKind]*apiextensionsv1.JSONSchemaProps{}}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
				gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
				cv.schemas[gvk] = v.Schema.OpenAPIV3Schema
			}
		}
	}
	return cv, nil
}

// converted is the outcome for one document.
type converted struct {
	// text is the document as it is to be written: unchanged when
	// nothing was rewritten, nil when it is left out.
	text []byte
	// object names the document's object ("" when it is not one).
	object string
	// flux reports a Flux object converted into a gitopsd one.
	flux bool
	// dropped reports a Flux object with no gitopsd kind, left out.
	dropped bool
	issues  []issue
}

// convertDocument converts one YAML document.
func (cv *converter) convertDocument(text []byte) (*converted, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	out := &converted{text: text}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return out, nil // comments only, or not an object: as it is
	}
	w := &walk{cv: cv}
	root := doc.Content[0]
	if err := w.count(root, 0); err != nil {
		return nil, err
	}
	apiVersion, kindName := scalar(root, "apiVersion"), scalar(root, "kind")
	md := value(root, "metadata")
	name, ns := scalar(md, "name"), scalar(md, "namespace")
	out.object = strings.TrimSpace(kindName + " " + strings.Trim(ns+"/"+name, "/"))
	w.object = out.object
	gv, _ := schema.ParseGroupVersion(apiVersion)
	if strings.HasSuffix(gv.Group, fluxGroupSuffix) {
		k := fluxKind(gv.Group, kindName)
		if k == nil {
			out.text, out.dropped = nil, true
			out.issues = append(out.issues, issue{Object: out.object, Line: root.Line, Message: fmt.Sprintf("gitopsd has no kind for Flux's %s (%s): left out", kindName, apiVersion)})
			return out, nil
		}
		setScalar(root, "apiVersion", k.GroupVersion.String())
		w.changed, out.flux = true, true
		w.object = k.Kind + strings.TrimPrefix(out.object, kindName)
		if err := w.object_(root, cv.schemas[k.GVK()]); err != nil {
			return nil, err
		}
	}
	w.metadata(md)
	out.issues = append(out.issues, w.issues...)
	if !w.changed {
		return out, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out.text = b.Bytes()
	return out, nil
}

// fluxKind returns gitopsd's kind for a Flux group and kind.
func fluxKind(group, kindName string) *kind {
	for _, k := range kinds {
		if k.FluxGroup == group && k.Kind == kindName {
			return k
		}
	}
	return nil
}

// walk is the state of one document's conversion.
type walk struct {
	cv      *converter
	object  string
	issues  []issue
	changed bool
	visits  int
}

func (w *walk) report(at *yaml.Node, field, format string, args ...any) {
	w.issues = append(w.issues, issue{Object: w.object, Field: field, Message: fmt.Sprintf(format, args...), Line: at.Line})
}

// count visits every node, aliases followed, failing past maxNodes.
func (w *walk) count(n *yaml.Node, depth int) error {
	w.visits++
	if w.visits > maxNodes || depth > 1000 {
		return errTooManyNodes
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return w.count(n.Alias, depth+1)
	}
	for _, c := range n.Content {
		if err := w.count(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// object_ checks a converted object's top-level fields against its schema.
func (w *walk) object_(root *yaml.Node, s *apiextensionsv1.JSONSchemaProps) error {
	for i := 0; i+1 < len(root.Content); {
		key, val := root.Content[i].Value, root.Content[i+1]
		switch key {
		case "apiVersion", "kind", "metadata":
			i += 2
			continue
		case "status":
			w.report(root.Content[i], "status", "dropped (gitopsd writes its own)")
			root.Content = append(root.Content[:i], root.Content[i+2:]...)
			continue
		}
		if s == nil {
			i += 2
			continue
		}
		prop, ok := s.Properties[key]
		if !ok {
			w.report(root.Content[i], key, "gitopsd's kind has no such field: dropped")
			root.Content = append(root.Content[:i], root.Content[i+2:]...)
			continue
		}
		w.value(key, val, &prop)
		i += 2
	}
	return nil
}

// value checks a node against its schema: unknown fields are dropped and
// reported, values outside an enum reported (and corrected when they
// differ from one only in case), Flux API versions rewritten.
func (w *walk) value(path string, n *yaml.Node, s *apiextensionsv1.JSONSchemaProps) {
	if n.Kind == yaml.AliasNode {
		return // shared with another field: checked there
	}
	switch n.Kind {
	case yaml.MappingNode:
		if s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields {
			return
		}
		for i := 0; i+1 < len(n.Content); {
			key, val := n.Content[i].Value, n.Content[i+1]
			field := path + "." + key
			if key == "apiVersion" && val.Kind == yaml.ScalarNode {
				w.apiVersion(field, n, val)
			}
			prop, ok := s.Properties[key]
			switch {
			case ok:
				w.value(field, val, &prop)
			case s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
				w.value(field, val, s.AdditionalProperties.Schema)
			case s.AdditionalProperties != nil && s.AdditionalProperties.Allows:
			default:
				w.report(n.Content[i], field, "gitopsd has no such field: dropped")
				n.Content = append(n.Content[:i], n.Content[i+2:]...)
				w.changed = true
				continue
			}
			i += 2
		}
	case yaml.SequenceNode:
		if s.Items == nil || s.Items.Schema == nil {
			return
		}
		for i, c := range n.Content {
			w.value(fmt.Sprintf("%s[%d]", path, i), c, s.Items.Schema)
		}
	case yaml.ScalarNode:
		if len(s.Enum) == 0 {
			return
		}
		var allowed []string
		for _, e := range s.Enum {
			var v string
			if json.Unmarshal(e.Raw, &v) == nil {
				allowed = append(allowed, v)
			}
		}
		for _, a := range allowed {
			if a == n.Value {
				return
			}
		}
		for _, a := range allowed {
			if strings.EqualFold(a, n.Value) {
				n.Value = a
				w.changed = true
				return
			}
		}
		w.report(n, path, "%s is not a value gitopsd takes (%s): kept, the API server will refuse it", strconv.Quote(n.Value), strings.Join(allowed, ", "))
	}
}

// apiVersion rewrites a reference's apiVersion (a sourceRef, a health
// check) naming a Flux group; parent holds the sibling kind.
func (w *walk) apiVersion(field string, parent, v *yaml.Node) {
	gv, err := schema.ParseGroupVersion(v.Value)
	if err != nil || !strings.HasSuffix(gv.Group, fluxGroupSuffix) {
		return
	}
	kindName := scalar(parent, "kind")
	if k := fluxKind(gv.Group, kindName); k != nil {
		v.Value = k.GroupVersion.String()
		w.changed = true
		return
	}
	w.report(v, field, "refers to Flux's %s (%s), which gitopsd has no kind for: kept", orDash(kindName), v.Value)
}

// metadata rewrites Flux's annotations and labels, on any object.
func (w *walk) metadata(md *yaml.Node) {
	if md == nil || md.Kind != yaml.MappingNode {
		return
	}
	if ann := value(md, "annotations"); ann != nil && ann.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ann.Content); i += 2 {
			k, v := ann.Content[i], ann.Content[i+1]
			to, ok := fluxAnnotations[k.Value]
			switch {
			case ok:
				if to.value != nil {
					nv, known := to.value[strings.ToLower(v.Value)]
					if !known {
						w.report(k, "metadata.annotations."+k.Value, "value %q has no gitopsd equivalent: kept under the Flux key", v.Value)
						continue
					}
					v.Value = nv
				}
				k.Value = to.key
				w.changed = true
			case strings.Contains(k.Value, "fluxcd.io/"):
				w.report(k, "metadata.annotations."+k.Value, "gitopsd does not read this Flux annotation: kept")
			}
		}
	}
	if labels := value(md, "labels"); labels != nil && labels.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(labels.Content); i += 2 {
			k := labels.Content[i]
			if to, ok := fluxLabels[k.Value]; ok {
				k.Value = to
				w.changed = true
			} else if strings.Contains(k.Value, "fluxcd.io/") {
				w.report(k, "metadata.labels."+k.Value, "gitopsd does not read this Flux label: kept")
			}
		}
	}
}

// value returns the value of key in a mapping node, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalar returns the scalar value of key in a mapping node, or "".
func scalar(m *yaml.Node, key string) string {
	if v := value(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// setScalar sets the value of an existing scalar key.
func setScalar(m *yaml.Node, key, v string) {
	if n := value(m, key); n != nil && n.Kind == yaml.ScalarNode {
		n.Value = v
		n.Tag, n.Style = "", 0
	}
}
