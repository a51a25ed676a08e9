package values

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Kinds a Reference may name.
const (
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"
)

// DefaultValuesKey is the key read when a Reference names none.
const DefaultValuesKey = "values.yaml"

// DefaultMaxBytes bounds each referenced value and the composed values
// (their JSON form) unless Options.MaxBytes says otherwise.
const DefaultMaxBytes = 8 << 20

// Reference names values held by a ConfigMap or a Secret: Flux's
// valuesFrom entry.
type Reference struct {
	// Kind is KindConfigMap or KindSecret.
	Kind string
	// Name of the object, in Options.Namespace.
	Name string
	// ValuesKey is the key holding the values; DefaultValuesKey when empty.
	ValuesKey string
	// TargetPath, when set, is where the key's value is set, in the key
	// syntax of `helm --set` (see the package documentation); the key then
	// holds one value rather than a YAML document.
	TargetPath string
	// Optional makes a missing object or key contribute nothing instead of
	// failing.
	Optional bool
}

func (r Reference) key() string {
	if r.ValuesKey == "" {
		return DefaultValuesKey
	}
	return r.ValuesKey
}

// Options are the per-call knobs of Compose. The zero value is the sane
// default, except Namespace, which a call with references needs.
type Options struct {
	// Namespace of the referenced objects.
	Namespace string
	// MaxBytes bounds each referenced value and the composed values in
	// their JSON form; DefaultMaxBytes when zero or negative.
	MaxBytes int
}

func (o Options) maxBytes() int {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

// Result is the outcome of Compose.
type Result struct {
	// Values are the composed values, ready for a Helm action. The caller's
	// inline map is copied, never shared.
	Values map[string]any
	// Checksum is Checksum(Values).
	Checksum string
	// Sensitive lists the scalar values taken from Secrets (strings and the
	// text of numbers), sorted and without duplicates, for masking.
	Sensitive []string
}

// Compose reads refs in order from r (an uncached reader suits Secrets),
// merges them, then merges inline on top (see the package documentation).
// Errors are *ReferenceError values naming the reference and key, matching
// ErrNotFound, ErrInvalid or ErrTooLarge (or wrapping the API server's
// error), and never hold a value. inline is not modified.
func Compose(ctx context.Context, r client.Reader, refs []Reference, inline map[string]any, opts Options) (*Result, error) {
	out := map[string]any{}
	sensitive := map[string]bool{}
	for _, ref := range refs {
		data, found, err := read(ctx, r, ref, opts)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		refErr := func(reason string, err error) error {
			return &ReferenceError{Kind: ref.Kind, Namespace: opts.Namespace, Name: ref.Name, Key: ref.key(), Reason: reason, Err: err}
		}
		if ref.TargetPath != "" {
			steps, err := parsePath(ref.TargetPath)
			if err != nil {
				return nil, refErr("", err)
			}
			v := typedValue(string(data))
			if err := setPath(out, steps, v); err != nil {
				return nil, refErr("", err)
			}
			if ref.Kind == KindSecret {
				collect(sensitive, v)
				collect(sensitive, string(data))
			}
			continue
		}
		doc, err := parseDocuments(data)
		if err != nil {
			return nil, refErr(err.Error(), ErrInvalid)
		}
		if ref.Kind == KindSecret {
			collect(sensitive, doc)
		}
		out = Merge(out, doc)
	}
	out = Merge(out, deepCopy(inline))
	sum, size, err := checksum(out)
	if err != nil {
		return nil, fmt.Errorf("%w: composed values: %v", ErrInvalid, err)
	}
	if size > opts.maxBytes() {
		return nil, fmt.Errorf("%w: composed values are %d bytes, more than %d", ErrTooLarge, size, opts.maxBytes())
	}
	res := &Result{Values: out, Checksum: sum}
	for s := range sensitive {
		res.Sensitive = append(res.Sensitive, s)
	}
	slices.Sort(res.Sensitive)
	return res, nil
}

// read returns the bytes of ref's key; found is false for a missing
// optional reference.
func read(ctx context.Context, r client.Reader, ref Reference, opts Options) (data []byte, found bool, err error) {
	key := types.NamespacedName{Namespace: opts.Namespace, Name: ref.Name}
	refErr := func(reason string, err error) error {
		return &ReferenceError{Kind: ref.Kind, Namespace: opts.Namespace, Name: ref.Name, Key: ref.key(), Reason: reason, Err: err}
	}
	if ref.Name == "" {
		return nil, false, refErr("no name", ErrInvalid)
	}
	var (
		ok       bool
		getErr   error
		getValue func() ([]byte, bool)
	)
	switch ref.Kind {
	case KindConfigMap:
		cm := &corev1.ConfigMap{}
		getErr = r.Get(ctx, key, cm)
		getValue = func() ([]byte, bool) {
			if s, ok := cm.Data[ref.key()]; ok {
				return []byte(s), true
			}
			b, ok := cm.BinaryData[ref.key()]
			return b, ok
		}
	case KindSecret:
		sec := &corev1.Secret{}
		getErr = r.Get(ctx, key, sec)
		getValue = func() ([]byte, bool) {
			b, ok := sec.Data[ref.key()]
			return b, ok
		}
	default:
		return nil, false, refErr("kind must be "+KindConfigMap+" or "+KindSecret, ErrInvalid)
	}
	if getErr != nil {
		if apierrors.IsNotFound(getErr) {
			if ref.Optional {
				return nil, false, nil
			}
			return nil, false, &ReferenceError{Kind: ref.Kind, Namespace: opts.Namespace, Name: ref.Name, Reason: "object not found", Err: ErrNotFound}
		}
		return nil, false, refErr("", getErr)
	}
	data, ok = getValue()
	if !ok {
		if ref.Optional {
			return nil, false, nil
		}
		return nil, false, refErr("key not found", ErrNotFound)
	}
	if len(data) > opts.maxBytes() {
		return nil, false, refErr(fmt.Sprintf("%d bytes, more than %d", len(data), opts.maxBytes()), ErrTooLarge)
	}
	return data, true, nil
}

// yamlLine finds the line number in a YAML parser's message, the only part
// of it that is safe to repeat: the rest may quote the document.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseDocuments parses one or more YAML documents and merges them in
// order. Its errors never quote the input.
func parseDocuments(data []byte) (map[string]any, error) {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data[:len(data):len(data)], '\n')
	}
	out := map[string]any{}
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d cannot be read", doc)
		}
		var v any
		if err := yaml.Unmarshal(raw, &v); err != nil {
			msg := fmt.Sprintf("document %d is not valid YAML", doc)
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				msg += " (line " + m[1] + ")"
			}
			return nil, errors.New(msg)
		}
		switch m := v.(type) {
		case nil:
		case map[string]any:
			out = Merge(out, m)
		default:
			return nil, fmt.Errorf("document %d is not a map of values", doc)
		}
	}
}

// Merge deep-merges src into dst with the semantics of `helm -f a -f b`:
// where both hold a map the maps are merged key by key, otherwise src's
// value replaces dst's, a null included (Helm's coalescing later deletes a
// key whose value is null). It returns the merged map; maps of dst on the
// way are copied, not modified, and src's values are used as they are.
func Merge(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = Merge(dm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// collect adds the scalar leaves of v to set.
func collect(set map[string]bool, v any) {
	switch t := v.(type) {
	case map[string]any:
		for _, c := range t {
			collect(set, c)
		}
	case []any:
		for _, c := range t {
			collect(set, c)
		}
	case string:
		if t != "" {
			set[t] = true
		}
	case float64:
		set[strconv.FormatFloat(t, 'f', -1, 64)] = true
	case int64:
		set[strconv.FormatInt(t, 10)] = true
	}
}

// deepCopy copies the maps and lists of a JSON-like value.
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
