package dependency

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxMessage bounds how much of a dependency's condition message is quoted
// in a NotReadyError, so that a dependent's condition stays readable.
const maxMessage = 256

// NotReadyError reports a dependency that is not ready. Its message is meant
// for a condition message:
//
//	dependency 'apps/db' is not ready: Ready condition is False: Failed: timeout
type NotReadyError struct {
	// Dependency names the dependency.
	Dependency Ref
	// Reason says why it is not ready.
	Reason string
	// NotFound reports that the dependency does not exist (Check).
	NotFound bool
}

// Error returns "dependency '<ref>' is not ready: <reason>", or
// "dependency '<ref>' not found".
func (e *NotReadyError) Error() string {
	if e.NotFound {
		return fmt.Sprintf("dependency '%s' not found", e.Dependency)
	}
	return fmt.Sprintf("dependency '%s' is not ready: %s", e.Dependency, e.Reason)
}

// ReadyOptions are the per-call knobs of CheckReady. The zero value runs the
// built-in check alone.
type ReadyOptions struct {
	// Expr, when set, must also evaluate to true for the dependency to be
	// ready.
	Expr *ReadyExpr
	// ExprOnly makes Expr the only check, for kinds without a Ready
	// condition (a Deployment, a ConfigMap). It is ignored when Expr is nil.
	ExprOnly bool
	// Self is the dependent object, bound to the expression's `self`
	// variable. When nil, `self` is an empty map.
	Self client.Object
}

// CheckReady reports whether obj, a dependency, is ready. It returns nil when
// it is, a *NotReadyError saying why when it is not, and another error when
// readiness cannot be decided (obj cannot be converted, the expression fails
// to evaluate). A controller typically requeues on a *NotReadyError and
// reports any other error as a configuration problem.
//
// The built-in check requires that the object is not being deleted, that
// its Ready condition is True, and that it has observed its current
// generation: status.observedGeneration equals metadata.generation, and so
// does the Ready condition's observedGeneration when it is set. An object
// that reports neither observedGeneration is not ready, since nothing proves
// its status describes its current spec; check such kinds with
// ReadyOptions.ExprOnly.
//
// Typed objects are converted to maps as the API server would serialise them;
// an *unstructured.Unstructured is read as is.
func CheckReady(ctx context.Context, obj client.Object, opts ReadyOptions) error {
	ref := Ref{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	m, err := toMap(obj)
	if err != nil {
		return fmt.Errorf("dependency '%s': %w", ref, err)
	}
	if opts.Expr == nil || !opts.ExprOnly {
		if reason := builtinNotReady(m); reason != "" {
			return &NotReadyError{Dependency: ref, Reason: reason}
		}
	}
	if opts.Expr != nil {
		var self map[string]any
		if opts.Self != nil {
			if self, err = toMap(opts.Self); err != nil {
				return fmt.Errorf("dependent object: %w", err)
			}
		}
		ok, err := opts.Expr.eval(ctx, m, self)
		if err != nil {
			return fmt.Errorf("dependency '%s': %w", ref, err)
		}
		if !ok {
			return &NotReadyError{Dependency: ref, Reason: fmt.Sprintf("expression %q is false", opts.Expr.expr)}
		}
	}
	return nil
}

func toMap(obj client.Object) (map[string]any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.Object, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T to unstructured: %w", obj, err)
	}
	return m, nil
}

// builtinNotReady returns why the object is not ready, or "" when it is.
func builtinNotReady(m map[string]any) string {
	if ts, _, _ := unstructured.NestedFieldNoCopy(m, "metadata", "deletionTimestamp"); ts != nil {
		return "it is being deleted"
	}
	gen, _ := toInt64(nested(m, "metadata", "generation"))
	status, _ := m["status"].(map[string]any)
	var ready map[string]any
	conds, _ := status["conditions"].([]any)
	for _, c := range conds {
		if cm, ok := c.(map[string]any); ok && cm["type"] == "Ready" {
			ready = cm
			break
		}
	}
	if ready == nil {
		return "it has no Ready condition"
	}
	statusGen, hasStatusGen := toInt64(status["observedGeneration"])
	condGen, hasCondGen := toInt64(ready["observedGeneration"])
	switch {
	case hasStatusGen && statusGen != gen:
		return fmt.Sprintf("its status describes generation %d, not the current generation %d", statusGen, gen)
	case hasCondGen && condGen != 0 && condGen != gen:
		return fmt.Sprintf("its Ready condition describes generation %d, not the current generation %d", condGen, gen)
	case !hasStatusGen && (!hasCondGen || condGen == 0):
		return "its status does not report an observed generation"
	}
	if s, _ := ready["status"].(string); s != string(metav1.ConditionTrue) {
		if s == "" {
			s = "empty"
		}
		reason, _ := ready["reason"].(string)
		msg, _ := ready["message"].(string)
		out := "Ready condition is " + s
		if reason != "" {
			out += ": " + reason
		}
		if msg = strings.TrimSpace(msg); msg != "" {
			if len(msg) > maxMessage {
				msg = strings.ToValidUTF8(msg[:maxMessage], "") + "…"
			}
			out += ": " + msg
		}
		return out
	}
	return ""
}

func nested(m map[string]any, fields ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(m, fields...)
	return v
}

// toInt64 reads an integer the way it may appear in an unstructured object:
// int64 from the API machinery, float64 from encoding/json.
func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}

// DefaultCostLimit is the evaluation cost budget of a ReadyExpr unless
// WithCostLimit says otherwise. It is the per-expression limit Kubernetes
// applies to CEL in CRD validation rules.
const DefaultCostLimit = 1_000_000

// ErrExpression is wrapped by the errors of a ReadyExpr that cannot be
// compiled or evaluated, or whose result is not a bool.
var ErrExpression = errors.New("invalid readiness expression")

// ReadyExpr is a compiled CEL expression deciding whether a dependency is
// ready. The dependency is bound to the variable `dep` and the dependent
// object to `self`, both as maps shaped like the objects' JSON, for example:
//
//	dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True') &&
//	    dep.metadata.labels['app/version'] == self.metadata.labels['app/version']
//
// Optional field access (`dep.?status.?replicas.orValue(0)`) is available.
// A ReadyExpr is compiled once and safe for concurrent use.
type ReadyExpr struct {
	expr string
	prg  cel.Program
}

// ExprOption configures NewReadyExpr.
type ExprOption func(*exprOptions)

type exprOptions struct {
	costLimit uint64
}

// WithCostLimit sets the evaluation cost budget (see cel.CostLimit). An
// evaluation that exceeds it fails. The default is DefaultCostLimit.
func WithCostLimit(limit uint64) ExprOption {
	return func(o *exprOptions) { o.costLimit = limit }
}

// NewReadyExpr compiles expr. The expression must produce a bool (or a
// dynamic value, checked at evaluation); otherwise, or when it does not
// compile, the error wraps ErrExpression.
func NewReadyExpr(expr string, opts ...ExprOption) (*ReadyExpr, error) {
	o := exprOptions{costLimit: DefaultCostLimit}
	for _, opt := range opts {
		opt(&o)
	}
	env, err := cel.NewEnv(
		cel.Variable("dep", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("self", cel.MapType(cel.StringType, cel.DynType)),
		cel.OptionalTypes(),
	)
	if err != nil {
		return nil, fmt.Errorf("creating CEL environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%w: %w", ErrExpression, iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%w: %q yields %s, not bool", ErrExpression, expr, t)
	}
	prg, err := env.Program(ast,
		cel.CostLimit(o.costLimit),
		cel.InterruptCheckFrequency(100),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrExpression, err)
	}
	return &ReadyExpr{expr: expr, prg: prg}, nil
}

// String returns the expression's source.
func (e *ReadyExpr) String() string { return e.expr }

// Eval evaluates the expression with dep bound to the dependency and self to
// the dependent (which may be nil). Cancelling ctx interrupts a long
// evaluation. A result that is not a bool is an error wrapping ErrExpression.
func (e *ReadyExpr) Eval(ctx context.Context, dep, self client.Object) (bool, error) {
	d, err := toMap(dep)
	if err != nil {
		return false, err
	}
	var s map[string]any
	if self != nil {
		if s, err = toMap(self); err != nil {
			return false, err
		}
	}
	return e.eval(ctx, d, s)
}

func (e *ReadyExpr) eval(ctx context.Context, dep, self map[string]any) (bool, error) {
	if self == nil {
		self = map[string]any{}
	}
	out, _, err := e.prg.ContextEval(ctx, map[string]any{"dep": dep, "self": self})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return false, fmt.Errorf("evaluating %q: %w", e.expr, ctxErr)
		}
		return false, fmt.Errorf("%w: evaluating %q: %w", ErrExpression, e.expr, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%w: %q yields %s, not bool", ErrExpression, e.expr, out.Type().TypeName())
	}
	return bool(b), nil
}
