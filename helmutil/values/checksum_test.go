package values

import (
	"math"
	"strings"
	"testing"
)

func TestChecksumStable(t *testing.T) {
	build := func(order []string) map[string]any {
		m := map[string]any{}
		for _, k := range order {
			m[k] = map[string]any{"n": int64(len(k)), "s": k, "l": []any{1.0, "x", nil}}
		}
		return m
	}
	a := build([]string{"alpha", "beta", "gamma", "delta"})
	b := build([]string{"delta", "gamma", "beta", "alpha"})
	sa, err := Checksum(a)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // map iteration order changes between runs
		if sb, _ := Checksum(b); sb != sa {
			t.Fatalf("checksum depends on insertion order: %s != %s", sa, sb)
		}
	}
	// the numeric type a decoder chose does not matter
	ints, _ := Checksum(map[string]any{"n": int64(3), "m": map[string]any{"f": int64(-1)}})
	floats, _ := Checksum(map[string]any{"n": 3.0, "m": map[string]any{"f": -1.0}})
	plain, _ := Checksum(map[string]any{"n": 3, "m": map[string]any{"f": -1}})
	if ints != floats || ints != plain {
		t.Errorf("int64 %s, float64 %s, int %s differ", ints, floats, plain)
	}
	empty, _ := Checksum(nil)
	if e2, _ := Checksum(map[string]any{}); e2 != empty {
		t.Error("nil and empty values differ")
	}
	if x, _ := Checksum(map[string]any{"n": 4.0}); x == floats {
		t.Error("different values, same checksum")
	}
	if x, _ := Checksum(map[string]any{"a": nil}); x == empty {
		t.Error("a null key and no key have the same checksum: a null deletes a chart default, so they differ")
	}
}

func TestChecksumRefusesWhatJSONCannotHold(t *testing.T) {
	_, err := Checksum(map[string]any{"secret-number": math.NaN()})
	if err == nil {
		t.Fatal("NaN accepted")
	}
	_, err = Checksum(map[string]any{"m": map[any]any{"k": "hunter2"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v: want an error without the value", err)
	}
}
