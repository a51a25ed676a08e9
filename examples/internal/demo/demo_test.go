package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/kit/kustomize"
)

// TestDemo runs the whole demo with gitopsd in process (cmd/demo without
// --gitopsd; e2e's TestDemo runs it with gitopsd as a child process), on
// a control plane of its own, and checks what each step measured and, for
// the image step, that the automation's one commit was applied.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole demo: a control plane, a git server, a registry and gitopsd")
	}
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Out: &out, PollInterval: 2 * time.Second})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	for name, d := range map[string]time.Duration{
		"first sync": res.FirstApplied, "request": res.RequestLatency, "prune": res.PruneLatency, "polling": res.PollingLatency,
		"alert": res.NotificationLatency, "webhook": res.WebhookLatency, "helm install": res.HelmInstalled, "helm upgrade": res.HelmUpgradeLatency,
		"image commit": res.ImageCommitLatency, "image applied": res.ImageUpdateLatency,
	} {
		if d <= 0 {
			t.Errorf("%s latency not measured", name)
		}
	}
	// The automation commits a batch window after the ImagePolicy's
	// change, which follows the image push: a lower bound by design, and
	// the proof that the demo's window reached gitopsd.
	if res.ImageCommitLatency < DefaultImageBatchWindow {
		t.Errorf("the image commit came %s after the push, within the batch window %s", res.ImageCommitLatency, DefaultImageBatchWindow)
	}
	if res.ImageUpdateLatency < res.ImageCommitLatency {
		t.Errorf("the image commit was applied (%s) before it was pushed (%s)", res.ImageUpdateLatency, res.ImageCommitLatency)
	}
	// The image step's checks passed (one commit, one line, the CronJob's
	// image) or Run failed; its output says so.
	for _, want := range []string{
		"ImageUpdateAutomation demo Ready", "nothing to update, no commit",
		"✓ one commit on top of", "- " + workloadFile + ": CronJob " + workloadName + ":",
		"CronJob/demo/app", "every step succeeded",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not say %q", want)
		}
	}
}

func TestShort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"main@sha1:0123456789abcdef0123456789abcdef01234567": "main@sha1:0123456789ab…",
		"v1.0.0@sha256:00112233445566778899aabbccddeeff":     "v1.0.0@sha256:001122334455…",
		"sha1:0123456789abcdef":                              "sha1:0123456789abcdef", // no name: kept whole
		"main@sha1:abc":                                      "main@sha1:abc",
		"not a revision":                                     "not a revision",
	} {
		if got := short(in); got != want {
			t.Errorf("short(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRound(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		123456789 * time.Nanosecond:                               "123ms",
		1234567890 * time.Nanosecond:                              "1.23s",
		5*time.Second + 180*time.Millisecond + 4*time.Millisecond: "5.18s",
	} {
		if got := round(d); got != want {
			t.Errorf("round(%s) = %q, want %q", d, got, want)
		}
	}
}

// The CronJob manifest the image step pushes is what the automation
// rewrites: kustomize.SetImages, given the ImagePolicy's new image, turns
// it into the manifest of the new tag, one line changed — the commit the
// step checks for.
func TestCronJobMarker(t *testing.T) {
	t.Parallel()
	const image = "127.0.0.1:5000/" + imageRepo
	dir := t.TempDir()
	before := cronJob(image + ":" + firstTag)
	if err := os.WriteFile(filepath.Join(dir, workloadFile), before, 0o644); err != nil {
		t.Fatal(err)
	}
	old := t.TempDir()
	if err := os.WriteFile(filepath.Join(old, workloadFile), before, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := kustomize.SetImages(context.Background(), dir, "", kustomize.SetImagesOptions{
		Policies: map[string]kustomize.ImageRef{Namespace + ":" + imageName: {Name: image, Tag: newTag}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || len(res.Files[0].Fields) != 1 || len(res.Warnings) != 0 || len(res.Unresolved) != 0 {
		t.Fatalf("SetImages: %+v", res)
	}
	f := res.Files[0].Fields[0]
	if res.Files[0].Path != workloadFile || f.Object.Kind != "CronJob" || f.Object.Name != workloadName ||
		f.Old != image+":"+firstTag || f.New != image+":"+newTag {
		t.Errorf("SetImages changed %s %+v", res.Files[0].Path, f)
	}
	after, err := os.ReadFile(filepath.Join(dir, workloadFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := cronJob(image + ":" + newTag); !bytes.Equal(after, want) {
		t.Errorf("rewritten manifest:\n%s\nwant:\n%s", after, want)
	}
	changes, err := diffTrees(old, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []lineChange{{
		File: workloadFile,
		Old:  `              image: ` + image + `:1.0.0 # {"$imagepolicy": "gitopskit-system:app"}`,
		New:  `              image: ` + image + `:1.1.0 # {"$imagepolicy": "gitopskit-system:app"}`,
	}}
	if !slices.Equal(changes, want) {
		t.Errorf("diffTrees = %+v, want %+v", changes, want)
	}
}

// diffTrees reports each changed line, and a file added, removed or of
// another line count whole; .git folders and equal files are left out.
func TestDiffTrees(t *testing.T) {
	t.Parallel()
	write := func(root string, files map[string]string) {
		for name, data := range files {
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	oldDir, newDir := t.TempDir(), t.TempDir()
	write(oldDir, map[string]string{"same.yaml": "a\n", "sub/two.yaml": "a\nb\nc\n", "gone.yaml": "x\n", "grown.yaml": "a\n", ".git/HEAD": "old\n"})
	write(newDir, map[string]string{"same.yaml": "a\n", "sub/two.yaml": "a\nB\nC\n", "new.yaml": "y\n", "grown.yaml": "a\nb\n", ".git/HEAD": "new\n"})
	got, err := diffTrees(oldDir, newDir)
	if err != nil {
		t.Fatal(err)
	}
	want := []lineChange{
		{File: "gone.yaml", Old: "x\n"},
		{File: "grown.yaml", Old: "a\n", New: "a\nb\n"},
		{File: "new.yaml", New: "y\n"},
		{File: "sub/two.yaml", Old: "b", New: "B"},
		{File: "sub/two.yaml", Old: "c", New: "C"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("diffTrees = %+v\nwant %+v", got, want)
	}
}

func TestCommitParents(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		encoded string
		want    []string
	}{
		"one":   {"tree aaa\nparent bbb\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nparent in the message\n", []string{"bbb"}},
		"merge": {"tree aaa\nparent bbb\nparent ccc\nauthor A <a@b> 1 +0000\n\nmsg\n", []string{"bbb", "ccc"}},
		"root":  {"tree aaa\nauthor A <a@b> 1 +0000\n\nparent ddd\n", nil},
	} {
		if got := commitParents([]byte(tc.encoded)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: commitParents = %q, want %q", name, got, tc.want)
		}
	}
}
