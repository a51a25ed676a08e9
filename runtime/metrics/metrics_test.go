package metrics_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/gitopskit/kit/runtime/metrics"
)

func newRecorder(t *testing.T, opts ...metrics.Option) (*metrics.Recorder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	rec := metrics.NewRecorder(opts...)
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	return rec, reg
}

// widget is an unstructured object of a custom kind.
func widget(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "test.gitopskit.dev", Version: "v1", Kind: "Widget"})
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func TestRecordConditions(t *testing.T) {
	t.Parallel()
	rec, reg := newRecorder(t)
	obj := widget("apps", "w1")
	rec.RecordConditions(obj, []metav1.Condition{
		{Type: "Ready", Status: metav1.ConditionFalse},
		{Type: "Reconciling", Status: metav1.ConditionTrue},
	})
	want := `
# HELP gitopskit_reconcile_condition The status of an object's conditions: 1 for the current status of each type, 0 for the others.
# TYPE gitopskit_reconcile_condition gauge
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="False",type="Ready"} 1
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="True",type="Ready"} 0
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="Unknown",type="Ready"} 0
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="False",type="Reconciling"} 0
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="True",type="Reconciling"} 1
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="Unknown",type="Reconciling"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitopskit_reconcile_condition"); err != nil {
		t.Fatal(err)
	}

	// Reconciling is gone (kstatus: negative-polarity types present only
	// when True) and Ready is True: Reconciling's series must go with it.
	rec.RecordConditions(obj, []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}})
	want = `
# HELP gitopskit_reconcile_condition The status of an object's conditions: 1 for the current status of each type, 0 for the others.
# TYPE gitopskit_reconcile_condition gauge
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="False",type="Ready"} 0
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="True",type="Ready"} 1
gitopskit_reconcile_condition{kind="Widget",name="w1",namespace="apps",status="Unknown",type="Ready"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitopskit_reconcile_condition"); err != nil {
		t.Fatal(err)
	}
}

func TestRecordSuspendedAndDuration(t *testing.T) {
	t.Parallel()
	rec, reg := newRecorder(t, metrics.WithPrefix("gotk"), metrics.WithBuckets(1, 10))
	obj := widget("apps", "w1")
	rec.RecordSuspended(obj, true)
	rec.RecordSuspended(widget("apps", "w2"), false)
	rec.RecordDuration(obj, time.Now().Add(-2*time.Second))

	want := `
# HELP gotk_suspend_status Whether an object's reconciliation is suspended: 1 if it is, 0 otherwise.
# TYPE gotk_suspend_status gauge
gotk_suspend_status{kind="Widget",name="w1",namespace="apps"} 1
gotk_suspend_status{kind="Widget",name="w2",namespace="apps"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gotk_suspend_status"); err != nil {
		t.Fatal(err)
	}
	// The histogram: one observation of about two seconds, so in the 10s
	// bucket and not in the 1s one.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, mf := range mfs {
		if mf.GetName() != "gotk_reconcile_duration_seconds" {
			continue
		}
		found = true
		h := mf.GetMetric()[0].GetHistogram()
		var got []uint64
		for _, b := range h.GetBucket() {
			got = append(got, b.GetCumulativeCount())
		}
		if diff := cmp.Diff([]uint64{0, 1}, got); diff != "" || h.GetSampleCount() != 1 || h.GetSampleSum() < 2 {
			t.Errorf("histogram buckets (-want +got):\n%s\ncount %d sum %f", diff, h.GetSampleCount(), h.GetSampleSum())
		}
	}
	if !found {
		t.Fatal("no gotk_reconcile_duration_seconds")
	}
}

func TestRecordPanicAndDrift(t *testing.T) {
	t.Parallel()
	rec, reg := newRecorder(t)
	obj := widget("apps", "w1")
	rec.RecordPanic(obj)
	rec.RecordPanic(obj)
	want := `
# HELP gitopskit_reconcile_panics_total The number of an object's reconciliations that panicked and were recovered.
# TYPE gitopskit_reconcile_panics_total counter
gitopskit_reconcile_panics_total{kind="Widget",name="w1",namespace="apps"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitopskit_reconcile_panics_total"); err != nil {
		t.Fatal(err)
	}
	rec.RecordDriftCorrected(obj, 3)
	rec.RecordDriftCorrected(obj, 0)
	want = `
# HELP gitopskit_drift_corrected_total The number of an object's applied objects found changed behind the controller's back and corrected.
# TYPE gitopskit_drift_corrected_total counter
gitopskit_drift_corrected_total{kind="Widget",name="w1",namespace="apps"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitopskit_drift_corrected_total"); err != nil {
		t.Fatal(err)
	}
	rec.Delete(obj)
	if n := testutil.CollectAndCount(rec, "gitopskit_reconcile_panics_total", "gitopskit_drift_corrected_total"); n != 0 {
		t.Errorf("%d panic series after Delete", n)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	rec, reg := newRecorder(t)
	gone, kept := widget("apps", "gone"), widget("apps", "kept")
	for _, obj := range []*unstructured.Unstructured{gone, kept} {
		rec.RecordDuration(obj, time.Now())
		rec.RecordSuspended(obj, false)
		rec.RecordConditions(obj, []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}})
		rec.RecordPanic(obj)
	}
	before := testutil.CollectAndCount(rec)

	// Only the identity is needed to delete.
	rec.Delete(widget("apps", "gone"))
	if got, want := testutil.CollectAndCount(rec), before/2; got != want {
		t.Fatalf("%d series after Delete, want %d", got, want)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == "gone" {
					t.Errorf("%s still has a series for the deleted object", mf.GetName())
				}
			}
		}
	}
	// Recording again after Delete starts from scratch.
	rec.RecordConditions(gone, []metav1.Condition{{Type: "Ready", Status: metav1.ConditionUnknown}})
	want := `
# HELP gitopskit_reconcile_condition The status of an object's conditions: 1 for the current status of each type, 0 for the others.
# TYPE gitopskit_reconcile_condition gauge
gitopskit_reconcile_condition{kind="Widget",name="gone",namespace="apps",status="False",type="Ready"} 0
gitopskit_reconcile_condition{kind="Widget",name="gone",namespace="apps",status="True",type="Ready"} 0
gitopskit_reconcile_condition{kind="Widget",name="gone",namespace="apps",status="Unknown",type="Ready"} 1
gitopskit_reconcile_condition{kind="Widget",name="kept",namespace="apps",status="False",type="Ready"} 0
gitopskit_reconcile_condition{kind="Widget",name="kept",namespace="apps",status="True",type="Ready"} 1
gitopskit_reconcile_condition{kind="Widget",name="kept",namespace="apps",status="Unknown",type="Ready"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitopskit_reconcile_condition"); err != nil {
		t.Fatal(err)
	}
}

func TestKind(t *testing.T) {
	t.Parallel()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		rec  *metrics.Recorder
		obj  func() *corev1.ConfigMap
		want string
	}{
		{name: "from TypeMeta", rec: metrics.NewRecorder(), want: "ConfigMap", obj: func() *corev1.ConfigMap {
			return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}}
		}},
		{name: "from the scheme", rec: metrics.NewRecorder(metrics.WithScheme(scheme)), want: "ConfigMap", obj: func() *corev1.ConfigMap {
			return &corev1.ConfigMap{}
		}},
		{name: "from the Go type", rec: metrics.NewRecorder(), want: "ConfigMap", obj: func() *corev1.ConfigMap {
			return &corev1.ConfigMap{}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			if err := tt.rec.Register(reg); err != nil {
				t.Fatal(err)
			}
			obj := tt.obj()
			obj.Name, obj.Namespace = "cm", "ns"
			tt.rec.RecordSuspended(obj, true)
			want := fmt.Sprintf(`
# HELP gitopskit_suspend_status Whether an object's reconciliation is suspended: 1 if it is, 0 otherwise.
# TYPE gitopskit_suspend_status gauge
gitopskit_suspend_status{kind=%q,name="cm",namespace="ns"} 1
`, tt.want)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitopskit_suspend_status"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRegisterTwiceFails(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if err := metrics.NewRecorder().Register(reg); err != nil {
		t.Fatal(err)
	}
	err := metrics.NewRecorder().Register(reg)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("second Register = %v, want AlreadyRegisteredError", err)
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	rec, _ := newRecorder(t)
	obj := widget("apps", "w1")
	rec.RecordDuration(obj, time.Now())
	rec.RecordSuspended(obj, false)
	rec.RecordConditions(obj, []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}})
	problems, err := testutil.CollectAndLint(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func BenchmarkRecordConditions(b *testing.B) {
	rec := metrics.NewRecorder()
	if err := rec.Register(prometheus.NewRegistry()); err != nil {
		b.Fatal(err)
	}
	obj := widget("apps", "w1")
	conds := []metav1.Condition{
		{Type: "Ready", Status: metav1.ConditionTrue},
		{Type: "Reconciling", Status: metav1.ConditionTrue},
		{Type: "ArtifactInStorage", Status: metav1.ConditionTrue},
	}
	b.ReportAllocs()
	for b.Loop() {
		rec.RecordConditions(obj, conds)
	}
}
