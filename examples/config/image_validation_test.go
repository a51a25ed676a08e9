package config_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/kit/examples/config"
)

// TestImageFieldValidation checks that the API server rejects invalid
// ImageRepository, ImagePolicy and ImageUpdateAutomation specs naming the
// field — an image with a scheme, credentials or a digest, no or several
// policies, an unknown order or reflection policy, Always without an
// interval, a forced refspec, an unknown strategy or source kind, no
// author email, a checkout of anything but a branch without a push branch
// — and accepts valid ones.
func TestImageFieldValidation(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t)
	repo := func(spec string) *unstructured.Unstructured {
		return api.object("image.gitopskit.dev/v1", "ImageRepository", spec)
	}
	policy := func(spec string) *unstructured.Unstructured {
		return api.object("image.gitopskit.dev/v1", "ImagePolicy", "  imageRepositoryRef: {name: app}\n"+spec)
	}
	auto := func(spec string) *unstructured.Unstructured {
		return api.object("image.gitopskit.dev/v1", "ImageUpdateAutomation", "  sourceRef: {kind: GitRepository, name: config}\n  interval: 10m\n"+spec)
	}
	const commit = "  git:\n    commit:\n      author: {email: bot@example.com}\n"
	api.accepts(map[string]*unstructured.Unstructured{
		"repository":        repo("  image: ghcr.io/org/app\n  interval: 5m\n"),
		"repository fields": repo("  image: registry.example.com:5000/org/app\n  interval: 5m\n  timeout: 30s\n  secretRef: {name: creds}\n  certSecretRef: {name: ca}\n  proxySecretRef: {name: proxy}\n  insecure: true\n  exclusionList: ['^sha-']\n  suspend: true\n"),
		"docker hub name":   repo("  image: nginx\n  interval: 5m\n"),
		"semver":            policy("  policy: {semver: {range: '>=1.0.0'}}\n"),
		"alphabetical":      policy("  policy: {alphabetical: {order: desc}}\n  filterTags: {pattern: '^main-(?P<ts>[0-9]+)', extract: '$ts'}\n"),
		"numerical":         policy("  policy: {numerical: {}}\n  digestReflectionPolicy: IfNotPresent\n"),
		"always":            policy("  policy: {semver: {range: '*'}}\n  digestReflectionPolicy: Always\n  interval: 10m\n"),
		"automation":        auto(commit),
		"checkout tag":      auto(commit + "    checkout: {ref: {tag: v1.0.0}}\n    push: {branch: auto}\n"),
		"checkout semver":   auto(commit + "    checkout: {ref: {semver: '>=1.0.0'}}\n    push: {branch: auto}\n"),
		"checkout commit":   auto(commit + "    checkout: {ref: {commit: 0123456789abcdef0123456789abcdef01234567}}\n    push: {branch: auto}\n"),
		"checkout pull ref": auto(commit + "    checkout: {ref: {name: refs/pull/1/head}}\n    push: {branch: auto}\n"),
		"checkout heads":    auto(commit + "    checkout: {ref: {name: refs/heads/main}}\n"),
		"automation fields": auto("  git:\n    checkout: {ref: {branch: main}}\n    commit:\n      author: {name: bot, email: bot@example.com}\n      signingKey: {secretRef: {name: key}}\n      messageTemplate: 'Update {{ .AutomationObject }}'\n    push: {branch: auto, refspec: 'refs/heads/auto:refs/heads/review', options: {ci.skip: ''}}\n  update: {path: ./clusters, strategy: Setters}\n  policySelector: {matchLabels: {team: web}}\n  suspend: true\n"),
	})
	api.refuses(map[string]refusal{
		"no image":               {repo("  interval: 5m\n"), "spec.image"},
		"image with scheme":      {repo("  image: https://ghcr.io/org/app\n  interval: 5m\n"), "spec.image"},
		"image with digest":      {repo("  image: ghcr.io/org/app@sha256:0\n  interval: 5m\n"), "spec.image"},
		"image with spaces":      {repo("  image: 'ghcr.io/org app'\n  interval: 5m\n"), "spec.image"},
		"no interval":            {repo("  image: ghcr.io/org/app\n"), "spec.interval"},
		"bad timeout":            {repo("  image: ghcr.io/org/app\n  interval: 5m\n  timeout: soon\n"), "spec.timeout"},
		"too many exclusions":    {repo("  image: ghcr.io/org/app\n  interval: 5m\n  exclusionList: [" + strings.Repeat("a,", 25) + "a]\n"), "spec.exclusionList"},
		"no policy":              {policy("  policy: {}\n"), "spec.policy"},
		"two policies":           {policy("  policy: {semver: {range: '*'}, numerical: {}}\n"), "spec.policy"},
		"empty range":            {policy("  policy: {semver: {range: ''}}\n"), "spec.policy.semver.range"},
		"unknown order":          {policy("  policy: {alphabetical: {order: random}}\n"), "spec.policy.alphabetical.order"},
		"unknown reflection":     {policy("  policy: {semver: {range: '*'}}\n  digestReflectionPolicy: Sometimes\n"), "spec.digestReflectionPolicy"},
		"always no interval":     {policy("  policy: {semver: {range: '*'}}\n  digestReflectionPolicy: Always\n"), "spec.interval"},
		"no repository ref":      {api.object("image.gitopskit.dev/v1", "ImagePolicy", "  policy: {semver: {range: '*'}}\n"), "spec.imageRepositoryRef"},
		"no git":                 {auto(""), "spec.git"},
		"no author email":        {auto("  git:\n    commit:\n      author: {name: bot}\n"), "spec.git.commit.author.email"},
		"tag, no push branch":    {auto(commit + "    checkout: {ref: {tag: v1.0.0}}\n    push: {refspec: 'refs/heads/main:refs/heads/main'}\n"), "needs spec.git.push.branch"},
		"semver, no push branch": {auto(commit + "    checkout: {ref: {semver: '*'}}\n"), "needs spec.git.push.branch"},
		"commit, no push branch": {auto(commit + "    checkout: {ref: {branch: main, commit: 0123456789abcdef0123456789abcdef01234567}}\n"), "needs spec.git.push.branch"},
		"pull ref, no push":      {auto(commit + "    checkout: {ref: {name: refs/pull/1/head}}\n"), "needs spec.git.push.branch"},
		"empty checkout ref":     {auto(commit + "    checkout: {ref: {}}\n"), "spec.git.checkout.ref"},
		"short commit":           {auto(commit + "    checkout: {ref: {commit: 0123abc}}\n    push: {branch: auto}\n"), "spec.git.checkout.ref.commit"},
		"forced refspec":         {auto(commit + "    push: {refspec: '+refs/heads/main:refs/heads/main'}\n"), "spec.git.push.refspec"},
		"unknown strategy":       {auto(commit + "  update: {strategy: Rewrite}\n"), "spec.update.strategy"},
		"unknown source kind":    {api.object("image.gitopskit.dev/v1", "ImageUpdateAutomation", "  sourceRef: {kind: Bucket, name: b}\n  interval: 1m\n"+commit), "spec.sourceRef.kind"},
		"template too long":      {auto("  git:\n    commit:\n      author: {email: b@example.com}\n      messageTemplate: " + strings.Repeat("x", 16385) + "\n"), "spec.git.commit.messageTemplate"},
	})
}

// TestImagePrinterColumns checks the columns kubectl get shows for the
// image kinds: what each scanned, chose or pushed, then Ready, Status, Age.
func TestImagePrinterColumns(t *testing.T) {
	t.Parallel()
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"imagerepositories.image.gitopskit.dev":      "Image,Tags,Last scan,Ready,Status,Age",
		"imagepolicies.image.gitopskit.dev":          "Image,Tag,Ready,Status,Age",
		"imageupdateautomations.image.gitopskit.dev": "Last push,Pushed,Ready,Status,Age",
	} {
		var got []string
		for _, crd := range crds {
			if crd.Name == name {
				for _, col := range crd.Spec.Versions[0].AdditionalPrinterColumns {
					got = append(got, col.Name)
				}
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s printer columns %v, want %s", name, got, want)
		}
	}
}
