package conditions_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/kit/runtime/conditions"
)

// object is the smallest Setter: what a CRD type provides.
type object struct {
	generation int64
	conditions []metav1.Condition
}

func (o *object) GetGeneration() int64                  { return o.generation }
func (o *object) GetConditions() []metav1.Condition     { return o.conditions }
func (o *object) SetConditions(list []metav1.Condition) { o.conditions = list }

func types(o conditions.Getter) []string {
	var out []string
	for _, c := range o.GetConditions() {
		out = append(out, c.Type+"="+string(c.Status))
	}
	return out
}

func TestSetKeepsTransitionTimeWhileStatusHolds(t *testing.T) {
	o := &object{generation: 1}
	conditions.MarkFalse(o, "Fetched", "Failed", "first")
	first := conditions.Get(o, "Fetched").LastTransitionTime
	if first.IsZero() {
		t.Fatal("lastTransitionTime not set")
	}
	past := metav1.NewTime(first.Add(-time.Hour))
	o.conditions[0].LastTransitionTime = past

	o.generation = 2
	conditions.MarkFalse(o, "Fetched", "StillFailed", "second %d", 2)
	c := conditions.Get(o, "Fetched")
	if !c.LastTransitionTime.Equal(&past) {
		t.Errorf("same status: lastTransitionTime moved from %v to %v", past, c.LastTransitionTime)
	}
	if c.Reason != "StillFailed" || c.Message != "second 2" || c.ObservedGeneration != 2 {
		t.Errorf("condition not updated: %+v", c)
	}

	conditions.MarkTrue(o, "Fetched", "Succeeded", "")
	if c := conditions.Get(o, "Fetched"); c.LastTransitionTime.Equal(&past) {
		t.Error("status changed but lastTransitionTime did not")
	}
}

func TestStableOrder(t *testing.T) {
	a, b := &object{}, &object{}
	conditions.MarkTrue(a, "Zeta", "R", "")
	conditions.MarkTrue(a, conditions.Ready, "R", "")
	conditions.MarkTrue(a, "Alpha", "R", "")
	conditions.MarkTrue(a, conditions.Reconciling, "R", "")

	conditions.MarkTrue(b, conditions.Reconciling, "R", "")
	conditions.MarkTrue(b, "Alpha", "R", "")
	conditions.MarkTrue(b, conditions.Ready, "R", "")
	conditions.MarkTrue(b, "Zeta", "R", "")

	want := []string{"Ready=True", "Reconciling=True", "Alpha=True", "Zeta=True"}
	if diff := cmp.Diff(want, types(a)); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(types(a), types(b)); diff != "" {
		t.Errorf("order depends on the order of calls (-a +b):\n%s", diff)
	}
}

func TestMarkReconcilingAndStalledExcludeEachOther(t *testing.T) {
	o := &object{}
	conditions.MarkStalled(o, "InvalidURL", "bad")
	conditions.MarkReconciling(o, conditions.ProgressingReason, "trying again")
	if conditions.Has(o, conditions.Stalled) {
		t.Error("Stalled kept after MarkReconciling")
	}
	conditions.MarkStalled(o, "InvalidURL", "bad")
	if conditions.Has(o, conditions.Reconciling) {
		t.Error("Reconciling kept after MarkStalled")
	}
}

func TestLongMessagesAreTruncated(t *testing.T) {
	o := &object{}
	conditions.MarkFalse(o, conditions.Ready, "Failed", "%s", strings.Repeat("é", 40000))
	msg := conditions.Get(o, conditions.Ready).Message
	if len(msg) > 32768 {
		t.Fatalf("message is %d bytes", len(msg))
	}
	if !strings.HasSuffix(msg, "(truncated)") {
		t.Errorf("truncated message does not say so: ...%s", msg[len(msg)-20:])
	}
	if strings.ContainsRune(msg, '\uFFFD') {
		t.Error("truncation split a rune")
	}
}

func TestSummarize(t *testing.T) {
	summary := conditions.Summary{
		Owned:            []string{"SourceVerified", "ArtifactInStorage"},
		NegativePolarity: []string{"FetchFailed"},
		SuccessMessage:   "stored artifact for revision main@sha1:abc",
	}
	type cond struct {
		t, status, reason string
	}
	tests := []struct {
		name      string
		given     []cond
		summary   conditions.Summary
		wantReady cond
		wantTypes []string
	}{
		{
			name:      "all good",
			given:     []cond{{"SourceVerified", "True", "Verified"}, {"ArtifactInStorage", "True", "Stored"}},
			wantReady: cond{"Ready", "True", "Succeeded"},
			wantTypes: []string{"Ready=True", "ArtifactInStorage=True", "SourceVerified=True"},
		},
		{
			name:      "stalled wins over everything",
			given:     []cond{{"Stalled", "True", "InvalidURL"}, {"FetchFailed", "True", "Unreachable"}, {"SourceVerified", "False", "Bad"}},
			wantReady: cond{"Ready", "False", "InvalidURL"},
			wantTypes: []string{"Ready=False", "Stalled=True", "FetchFailed=True", "SourceVerified=False"},
		},
		{
			name:      "negative polarity before owned",
			given:     []cond{{"SourceVerified", "False", "Bad"}, {"FetchFailed", "True", "Unreachable"}},
			wantReady: cond{"Ready", "False", "Unreachable"},
			wantTypes: []string{"Ready=False", "FetchFailed=True", "SourceVerified=False"},
		},
		{
			name:      "owned false while retrying stays False",
			given:     []cond{{"Reconciling", "True", "ProgressingWithRetry"}, {"SourceVerified", "False", "Bad"}},
			wantReady: cond{"Ready", "False", "Bad"},
			wantTypes: []string{"Ready=False", "Reconciling=True", "SourceVerified=False"},
		},
		{
			name:      "reconciling makes Ready Unknown",
			given:     []cond{{"Reconciling", "True", "Progressing"}, {"SourceVerified", "True", "Verified"}},
			wantReady: cond{"Ready", "Unknown", "Progressing"},
			wantTypes: []string{"Ready=Unknown", "Reconciling=True", "SourceVerified=True"},
		},
		{
			name:      "owned unknown",
			given:     []cond{{"ArtifactInStorage", "Unknown", "Pending"}},
			wantReady: cond{"Ready", "Unknown", "Pending"},
			wantTypes: []string{"Ready=Unknown", "ArtifactInStorage=Unknown"},
		},
		{
			name:      "negative polarity types not True are removed",
			given:     []cond{{"Reconciling", "False", "Done"}, {"Stalled", "Unknown", "X"}, {"FetchFailed", "False", "Fine"}},
			wantReady: cond{"Ready", "True", "Succeeded"},
			wantTypes: []string{"Ready=True"},
		},
		{
			name:      "not owned conditions do not count",
			given:     []cond{{"SomeoneElses", "False", "Theirs"}},
			wantReady: cond{"Ready", "True", "Succeeded"},
			wantTypes: []string{"Ready=True", "SomeoneElses=False"},
		},
		{
			name:      "controller's own Ready=True reason is kept",
			given:     []cond{{"Ready", "True", "UpToDate"}},
			wantReady: cond{"Ready", "True", "UpToDate"},
			wantTypes: []string{"Ready=True"},
		},
		{
			name:      "custom success reason",
			summary:   conditions.Summary{SuccessReason: "ReconciliationSucceeded"},
			wantReady: cond{"Ready", "True", "ReconciliationSucceeded"},
			wantTypes: []string{"Ready=True"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &object{generation: 3}
			for _, c := range tt.given {
				conditions.Set(o, metav1.Condition{Type: c.t, Status: metav1.ConditionStatus(c.status), Reason: c.reason, Message: "msg of " + c.t})
			}
			s := summary
			if tt.summary.SuccessReason != "" {
				s = tt.summary
			}
			conditions.Summarize(o, s)
			r := conditions.Get(o, conditions.Ready)
			got := cond{r.Type, string(r.Status), r.Reason}
			if diff := cmp.Diff(tt.wantReady, got, cmp.AllowUnexported(cond{})); diff != "" {
				t.Errorf("Ready (-want +got):\n%s", diff)
			}
			if r.ObservedGeneration != 3 {
				t.Errorf("Ready.observedGeneration = %d, want 3", r.ObservedGeneration)
			}
			if diff := cmp.Diff(tt.wantTypes, types(o)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if problems := conditions.Check(toUnstructured(o)); len(problems) > 0 {
				t.Errorf("Summarize produced conditions Check rejects: %v", problems)
			}
		})
	}
}

func TestIsReadyNeedsCurrentGeneration(t *testing.T) {
	o := &object{generation: 1}
	conditions.MarkTrue(o, conditions.Ready, "Succeeded", "")
	if !conditions.IsReady(o) {
		t.Fatal("Ready=True at the current generation is not ready")
	}
	o.generation = 2
	if conditions.IsReady(o) {
		t.Error("Ready=True for generation 1 counts as ready at generation 2")
	}
}

func TestUnstructuredAdapter(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.gitopskit.dev/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "generation": int64(4)},
		"status":   map[string]any{"observedGeneration": int64(4)},
	}}
	s := conditions.Unstructured(u)
	conditions.MarkTrue(s, conditions.Ready, "Succeeded", "all %s", "good")
	if !conditions.IsReady(s) {
		t.Fatal("not ready after MarkTrue")
	}
	got, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	if len(got) != 1 || got[0].(map[string]any)["message"] != "all good" {
		t.Errorf("status.conditions = %v", got)
	}
	if g, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); g != 4 {
		t.Error("other status fields lost")
	}
	conditions.Delete(s, conditions.Ready)
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "conditions"); found {
		t.Error("empty condition list left in status")
	}
}

func TestCheck(t *testing.T) {
	now := metav1.Now()
	c := func(t, s, reason string) map[string]any {
		return map[string]any{"type": t, "status": s, "reason": reason, "message": "", "lastTransitionTime": now.UTC().Format(time.RFC3339)}
	}
	tests := []struct {
		name       string
		generation int64
		observed   int64
		conds      []any
		want       []string // substrings, one per problem
	}{
		{name: "sound", generation: 2, observed: 2, conds: []any{c("Ready", "True", "Succeeded")}},
		{name: "sound while failing", generation: 2, observed: 2, conds: []any{c("Ready", "False", "Failed"), c("Reconciling", "True", "ProgressingWithRetry")}},
		{name: "missing Ready", generation: 1, observed: 1, conds: []any{c("Fetched", "True", "OK")}, want: []string{"Ready: missing"}},
		{name: "negative polarity False", generation: 1, observed: 1,
			conds: []any{c("Ready", "True", "OK"), c("Reconciling", "False", "Done")},
			want:  []string{"Reconciling: present with status False"}},
		{name: "ready while reconciling", generation: 1, observed: 1,
			conds: []any{c("Ready", "True", "OK"), c("Reconciling", "True", "Progressing")},
			want:  []string{"Ready: True while Reconciling is True"}},
		{name: "stalled but not failed", generation: 1, observed: 1,
			conds: []any{c("Ready", "Unknown", "Wait"), c("Stalled", "True", "Stuck")},
			want:  []string{"Stalled: True while Ready is not False"}},
		{name: "ready for an old generation", generation: 3, observed: 2,
			conds: []any{c("Ready", "True", "OK")},
			want:  []string{"Ready: True but kstatus computes InProgress"}},
		{name: "bad reason and status", generation: 1, observed: 1,
			conds: []any{c("Ready", "Maybe", "not camel case")},
			want:  []string{`status "Maybe"`, "must be CamelCase"}},
		{name: "duplicates", generation: 1, observed: 1,
			conds: []any{c("Ready", "False", "A"), c("Ready", "False", "B")},
			want:  []string{"appears more than once"}},
		{name: "not conditions", generation: 1, observed: 1,
			conds: []any{"Ready"},
			want:  []string{"not a list of metav1.Condition"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "test.gitopskit.dev/v1", "kind": "Widget",
				"metadata": map[string]any{"name": "w", "generation": tt.generation},
				"status":   map[string]any{"observedGeneration": tt.observed, "conditions": tt.conds},
			}}
			problems := conditions.Check(u)
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Check() = %q, want %d problems matching %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func toUnstructured(o *object) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.gitopskit.dev/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "generation": o.generation},
		"status":   map[string]any{"observedGeneration": o.generation},
	}}
	conditions.Unstructured(u).SetConditions(o.conditions)
	return u
}

// FuzzSetSummarize drives Set, Delete and Summarize with arbitrary condition
// types, statuses and reasons and checks the invariants every caller relies
// on: one condition per type, a stable order, Ready present after Summarize,
// and negative-polarity conditions only when True.
func FuzzSetSummarize(f *testing.F) {
	f.Add("Ready", "True", "Reconciling", "False", "Succeeded", uint8(0))
	f.Add("Stalled", "True", "Fetched", "Unknown", "Bad", uint8(3))
	f.Add("Fetched", "Maybe", "Fetched", "True", "", uint8(255))
	f.Fuzz(func(t *testing.T, t1, s1, t2, s2, reason string, ops uint8) {
		o := &object{generation: int64(ops)}
		apply := func(typ, st string, op uint8) {
			switch op % 4 {
			case 0, 1:
				conditions.Set(o, metav1.Condition{Type: typ, Status: metav1.ConditionStatus(st), Reason: reason})
			case 2:
				conditions.Delete(o, typ)
			case 3:
				conditions.MarkReconciling(o, reason, "%s", st)
			}
		}
		apply(t1, s1, ops)
		apply(t2, s2, ops>>2)
		apply(t1, s2, ops>>4)
		conditions.Summarize(o, conditions.Summary{Owned: []string{t1}, NegativePolarity: []string{t2}})

		seen := map[string]bool{}
		for _, c := range o.conditions {
			if seen[c.Type] {
				t.Fatalf("type %q twice: %v", c.Type, types(o))
			}
			seen[c.Type] = true
			if c.ObservedGeneration != o.generation {
				t.Fatalf("%s observedGeneration %d, want %d", c.Type, c.ObservedGeneration, o.generation)
			}
		}
		if !seen[conditions.Ready] {
			t.Fatalf("no Ready after Summarize: %v", types(o))
		}
		for _, neg := range []string{conditions.Reconciling, conditions.Stalled} {
			if neg == t1 {
				continue // declared as owned positive polarity by the fuzzer
			}
			if c := conditions.Get(o, neg); c != nil && c.Status != metav1.ConditionTrue {
				t.Fatalf("%s present with status %q", neg, c.Status)
			}
		}
		again := &object{generation: o.generation, conditions: append([]metav1.Condition(nil), o.conditions...)}
		conditions.Summarize(again, conditions.Summary{Owned: []string{t1}, NegativePolarity: []string{t2}})
		if diff := cmp.Diff(o.conditions, again.conditions, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Summarize is not idempotent (-first +second):\n%s", diff)
		}
	})
}
