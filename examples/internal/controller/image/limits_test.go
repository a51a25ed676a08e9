package image

import (
	"fmt"
	"strings"
	"testing"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// A registry listing more tags than MaxTags fails the scan (Ready=False
// ScanFailed, retried) and stores nothing.
func TestImageRepositoryTooManyTags(t *testing.T) {
	h := newHarness(t, func(rs *reconcilers) { rs.repo.MaxTags = 3 })
	reg := ocitest.New(t)
	for i := range 4 {
		pushImage(t, reg, "app", fmt.Sprintf("v%d", i))
	}
	obj := imageRepository("app", reg, "app")
	h.create(obj)
	c := h.waitNotReady(obj, reasonScanFailed)
	if !strings.Contains(c.Message, "more than 3 tags") || conditions.IsTrue(obj, conditions.Stalled) {
		t.Errorf("conditions %+v", obj.Status.Conditions)
	}
	if _, _, ok := h.tags.Get(obj.UID); ok || obj.Status.LastScanResult != nil {
		t.Error("a scan over the limit was kept")
	}
}

// A policy whose repository's tags are not in the store (gitopsd
// restarted, or the store dropped them) waits, ScanPending, and chooses
// once the repository was scanned again.
func TestImagePolicyWaitsForAScan(t *testing.T) {
	h := newHarness(t)
	reg := ocitest.New(t)
	pushImage(t, reg, "app", "1.0.0")
	repo := imageRepository("app", reg, "app")
	h.create(repo)
	h.waitReady(repo)
	p := imagePolicy("app", "app", semverPolicy("*"))
	h.create(p)
	h.waitReady(p)

	h.tags.Delete(repo.UID)
	pushImage(t, reg, "app", "1.1.0")
	h.request(p)
	if c := conditions.Get(p, conditions.Ready); c.Reason != reasonScanPending || !strings.Contains(c.Message, "waiting for a scan of imagerepository") {
		t.Fatalf("Ready %+v", c)
	}
	h.request(repo)
	h.waitFor(p, "the choice after the rescan", func() bool {
		return conditions.IsReady(p) && p.Status.LatestRef.Tag == "1.1.0"
	})
}

// gitopsd writes only to a GitRepository of the automation's namespace,
// and only inside the checkout.
func TestAutomationStaysInItsNamespaceAndCheckout(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	other := automation("other-ns", func(s *imagev1.ImageUpdateAutomationSpec) { s.SourceRef.Namespace = "kube-system" })
	h.create(other)
	if c := h.waitNotReady(other, reasonInvalidSource); !conditions.IsTrue(other, conditions.Stalled) || !strings.Contains(c.Message, "own namespace") {
		t.Errorf("conditions %+v", other.Status.Conditions)
	}
	escape := automation("escape", func(s *imagev1.ImageUpdateAutomationSpec) { s.Update.Path = "../../etc" })
	h.create(escape)
	if c := h.waitNotReady(escape, reasonInvalidUpdatePath); !conditions.IsTrue(escape, conditions.Stalled) || !strings.Contains(c.Message, "spec.update.path") {
		t.Errorf("conditions %+v", escape.Status.Conditions)
	}
	missing := automation("missing", func(s *imagev1.ImageUpdateAutomationSpec) { s.SourceRef.Name = "nothere" })
	h.create(missing)
	h.waitNotReady(missing, reasonSourceNotFound)
	for _, o := range []*imagev1.ImageUpdateAutomation{other, escape, missing} {
		if o.Status.LastPushCommit != "" {
			t.Errorf("%s pushed", o.Name)
		}
	}
}
