package image

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// The store holds at most its size of repositories, dropping the least
// recently used, and keeps its own copy of the tags.
func TestTagStoreBounded(t *testing.T) {
	t.Parallel()
	s := NewTagStore(3)
	tags := []string{"a", "b"}
	for i := range 3 {
		s.Put(types.UID(fmt.Sprint(i)), "rev", tags)
	}
	tags[0] = "changed"
	if got, _, _ := s.Get("0"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("the store shares the caller's slice: %v", got)
	}
	// "0" was just used: "1" is the least recently used.
	s.Put("3", "rev", nil)
	if s.Len() != 3 {
		t.Errorf("Len %d, want 3", s.Len())
	}
	if _, _, ok := s.Get("1"); ok {
		t.Error("the least recently used repository was kept")
	}
	for _, uid := range []types.UID{"0", "2", "3"} {
		if _, _, ok := s.Get(uid); !ok {
			t.Errorf("%s was dropped", uid)
		}
	}
	s.Put("3", "rev2", []string{"x"})
	if got, rev, _ := s.Get("3"); rev != "rev2" || !slices.Equal(got, []string{"x"}) {
		t.Errorf("replaced entry: %v %s", got, rev)
	}
	s.Delete("3")
	if _, _, ok := s.Get("3"); ok || s.Len() != 2 {
		t.Error("Delete kept the entry")
	}
	if NewTagStore(0).size != DefaultTagStoreSize {
		t.Error("size 0 is not the default")
	}
}
