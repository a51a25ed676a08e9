package helm

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestWatchedValuesKeepNoData: the cache of watch-labelled ConfigMaps and
// Secrets drops their data as it stores them (the watch needs only their
// names), so no Secret value is held in gitopsd's memory by it.
func TestWatchedValuesKeepNoData(t *testing.T) {
	t.Parallel()
	s := &corev1.Secret{Data: map[string][]byte{"password": []byte("x")}, StringData: map[string]string{"a": "b"}}
	s.Name, s.Labels = "db", map[string]string{WatchLabel: WatchLabelValue}
	cm := &corev1.ConfigMap{Data: map[string]string{"values.yaml": "a: 1"}, BinaryData: map[string][]byte{"b": {1}}}
	cm.Name = "values"
	for _, o := range []any{s, cm} {
		if _, err := dropData(o); err != nil {
			t.Fatal(err)
		}
	}
	if s.Data != nil || s.StringData != nil || cm.Data != nil || cm.BinaryData != nil {
		t.Fatalf("data kept: %+v %+v", s, cm)
	}
	if s.Name != "db" || s.Labels[WatchLabel] != WatchLabelValue || cm.Name != "values" {
		t.Fatal("metadata lost")
	}
}
