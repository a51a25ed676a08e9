package image

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	"github.com/gitopskit/kit/runtime/conditions"
)

// Bad input is a clear Ready=False and pushes nothing: a template that
// does not parse stalls; one that fails while running (an unknown field)
// or writes more than the message bound is retried at the interval.
func TestAutomationTemplateFailures(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	head := f.git("rev-parse", "main")
	for _, tc := range []struct {
		name, tmpl, text string
		stalled          bool
	}{
		{"parse", "Update {{ .Changed.Changes ", "messageTemplate", true},
		{"exec", "Update {{ .Nope }}", "can't evaluate field Nope", false},
		{"huge", strings.Repeat(`{{ printf "%999s" "" }}`, 100), "longer than 65536 bytes", false},
	} {
		obj := automation(tc.name, func(s *imagev1.ImageUpdateAutomationSpec) { s.GitSpec.Commit.MessageTemplate = tc.tmpl })
		h.create(obj)
		c := h.waitNotReady(obj, reasonInvalidTemplate)
		if !strings.Contains(c.Message, tc.text) || conditions.IsTrue(obj, conditions.Stalled) != tc.stalled {
			t.Errorf("%s: conditions %+v", tc.name, obj.Status.Conditions)
		}
		if obj.Status.LastPushCommit != "" {
			t.Errorf("%s: pushed %s", tc.name, obj.Status.LastPushCommit)
		}
	}
	if now := f.git("rev-parse", "main"); now != head {
		t.Errorf("main moved to %s", now)
	}
}

// A marker naming an ImagePolicy that does not exist leaves the automation
// Ready=False PolicyNotFound, naming the marker's file and line; the other
// markers are still written and pushed. A marker of a policy that exists
// but is not selected is no error.
func TestAutomationUnknownPolicy(t *testing.T) {
	f := newAutomationFixture(t, map[string]string{"README.md": "config\n"})
	h := f.h
	f.repo.Commit("main", "markers", map[string]string{
		"clusters/prod/deploy.yaml": strings.ReplaceAll(deployYAML, "NS", h.ns),
		"clusters/prod/more.yaml": "a: x:1 # {\"$imagepolicy\": \"" + h.ns + ":ghost\"}\n" +
			"b: y:1 # {\"$imagepolicy\": \"" + h.ns + ":worker\"}\n" +
			"c: z:1 # {\"$imagepolicy\": \"elsewhere:other\"}\n",
	})
	obj := automation("apps", func(s *imagev1.ImageUpdateAutomationSpec) {
		// worker is not selected: its markers are left alone, silently.
		s.PolicySelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "automation", Operator: metav1.LabelSelectorOpExists}}}
	})
	h.create(obj)
	c := h.waitNotReady(obj, reasonPolicyNotFound)
	if !strings.Contains(c.Message, "1 marker(s) name an ImagePolicy that does not exist: "+h.ns+":ghost (clusters/prod/more.yaml:1)") ||
		!strings.Contains(c.Message, "the other markers were applied") || conditions.IsTrue(obj, conditions.Stalled) {
		t.Errorf("conditions %+v", obj.Status.Conditions)
	}
	if obj.Status.LastPushCommit == "" || obj.Status.LastPushCommit != f.git("rev-parse", "main") {
		t.Fatalf("the other markers were not pushed: %+v", obj.Status)
	}
	if content := f.git("show", "main:clusters/prod/deploy.yaml"); !strings.Contains(content, f.reg.Repo("app")+":v1.0.0") {
		t.Errorf("deploy.yaml:\n%s", content)
	}
	if more := f.git("show", "main:clusters/prod/more.yaml"); !strings.Contains(more, "a: x:1 ") || !strings.Contains(more, "c: z:1 ") {
		t.Errorf("more.yaml:\n%s", more)
	}
}

// SetImages' warnings (a marker it will not guess at) are a Warning event;
// the rest is applied.
func TestAutomationSetterWarnings(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	f.repo.Commit("main", "a block scalar", map[string]string{
		"clusters/prod/block.yaml": "script: |\n  image: x:1 # {\"$imagepolicy\": \"" + h.ns + ":app\"}\n",
	})
	obj := automation("apps")
	h.create(obj)
	h.waitReady(obj)
	if e := h.waitEvent("Warning SetterWarnings"); !strings.Contains(e, "block.yaml") {
		t.Errorf("event %q does not name the file", e)
	}
	if obj.Status.LastPushCommit == "" {
		t.Error("nothing pushed")
	}
}

// spec.git.commit.signingKey signs the commit: an SSH key's signature is
// in the pushed commit (git verify-commit with the key as allowed signer).
func TestAutomationSignsCommits(t *testing.T) {
	f := newAutomationFixture(t, nil)
	h := f.h
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "signing"}, Data: map[string][]byte{"identity": pem.EncodeToMemory(block)}})
	obj := automation("apps", func(s *imagev1.ImageUpdateAutomationSpec) {
		s.GitSpec.Commit.SigningKey = &imagev1.SigningKey{SecretRef: meta.LocalObjectReference{Name: "signing"}}
	})
	h.create(obj)
	h.waitReady(obj)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	raw := f.git("cat-file", "commit", obj.Status.LastPushCommit)
	if !strings.Contains(raw, "-----BEGIN SSH SIGNATURE-----") {
		t.Fatalf("the commit is not signed:\n%s", raw)
	}
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(allowed, []byte("gitopsd@example.com "+string(ssh.MarshalAuthorizedKey(sshPub))), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := f.git("-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "-v", obj.Status.LastPushCommit); !strings.Contains(out, "Good") {
		t.Errorf("git verify-commit: %s", out)
	}

	// A Secret without a key is Ready=False InvalidSigningKey.
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Data: map[string][]byte{"other": []byte("x")}})
	bad := automation("bad", func(s *imagev1.ImageUpdateAutomationSpec) {
		s.GitSpec.Commit.SigningKey = &imagev1.SigningKey{SecretRef: meta.LocalObjectReference{Name: "empty"}}
	})
	h.create(bad)
	if c := h.waitNotReady(bad, reasonInvalidSigningKey); !strings.Contains(c.Message, "neither git.asc nor identity") {
		t.Errorf("conditions %+v", bad.Status.Conditions)
	}
}
