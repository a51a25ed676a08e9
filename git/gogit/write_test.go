package gogit_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

func TestCommitAndPush(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithBasicAuth("bot", "push-secret"))
	repo := srv.InitRepository("app.git")
	repo.Commit("main", "init", map[string]string{"app.yaml": "image: v1\n"})
	ctx := context.Background()
	auth := git.AuthOptions{Username: "bot", Password: "push-secret", AllowInsecureHTTP: true}
	c, err := gogit.New(srv.HTTPURL("app.git"), gogit.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	author := git.Signature{Name: "Bot", Email: "bot@gitopskit.dev"}

	// Clone, commit, push: the remote's main moves.
	dir := filepath.Join(t.TempDir(), "a")
	if _, err := c.Clone(ctx, dir, gogit.CloneOptions{Reference: git.Reference{Branch: "main"}}); err != nil {
		t.Fatal(err)
	}
	h, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: author, Message: "bump image", Files: map[string][]byte{"app.yaml": []byte("image: v2\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, dir, gogit.PushOptions{Options: map[string]string{"ci.skip": "true"}}); err != nil {
		t.Fatal(err)
	}
	if got := repo.Resolve("main"); got != h {
		t.Fatalf("remote main = %s, want %s", got, h)
	}
	if got, _ := repo.ReadFile(h, "app.yaml"); got != "image: v2\n" {
		t.Fatalf("pushed app.yaml = %q", got)
	}

	// A branch for a pull request.
	if err := c.SwitchBranch(ctx, dir, "update/image", true); err != nil {
		t.Fatal(err)
	}
	hb, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: author, Message: "on branch", Files: map[string][]byte{"b.txt": []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, dir, gogit.PushOptions{RefSpecs: []string{"refs/heads/update/image:refs/heads/update/image"}}); err != nil {
		t.Fatal(err)
	}
	if repo.Resolve("update/image") != hb {
		t.Fatal("branch not pushed")
	}

	// Someone else pushes to main; our stale main is rejected, force wins.
	other := repo.Commit("main", "someone else", map[string]string{"other.txt": "x"})
	if err := c.SwitchBranch(ctx, dir, "main", false); err != nil {
		t.Fatal(err)
	}
	mine, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: author, Message: "mine", Files: map[string][]byte{"mine.txt": []byte("m")}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Push(ctx, dir, gogit.PushOptions{RefSpecs: []string{"refs/heads/main:refs/heads/main"}})
	if !errors.Is(err, git.ErrNonFastForward) {
		t.Fatalf("push err = %v, want ErrNonFastForward", err)
	}
	assertNoSecret(t, err, "push-secret")
	if repo.Resolve("main") != other {
		t.Fatal("rejected push changed the remote")
	}
	if err := c.Push(ctx, dir, gogit.PushOptions{RefSpecs: []string{"refs/heads/main:refs/heads/main"}, Force: true}); err != nil {
		t.Fatal(err)
	}
	if repo.Resolve("main") != mine {
		t.Fatal("force push did not land")
	}
}

func TestInitPushToEmptyAndReadOnly(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("new.git")
	ctx := context.Background()
	c, err := gogit.New(srv.HTTPURL("new.git"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "w")
	if err := c.Init(ctx, dir, "main"); err != nil {
		t.Fatal(err)
	}
	h, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: git.Signature{Name: "a", Email: "a@b"}, Message: "first", Files: map[string][]byte{"x/y.txt": []byte("y")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, dir, gogit.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if repo.Resolve("main") != h {
		t.Fatal("first push did not land")
	}
	if _, err := c.Commit(ctx, dir, gogit.CommitOptions{Author: git.Signature{Name: "a", Email: "a@b"}, Files: map[string][]byte{"../escape": []byte("x")}}); !errors.Is(err, git.ErrUnsafePath) {
		t.Fatalf("escaping path: err = %v", err)
	}

	ro := gittest.NewServer(t, gittest.WithReadOnly())
	ro.InitRepository("new.git")
	rc, _ := gogit.New(ro.HTTPURL("new.git"))
	if err := rc.Push(ctx, dir, gogit.PushOptions{RefSpecs: []string{"refs/heads/main:refs/heads/main"}}); err == nil {
		t.Fatal("push to a read-only server succeeded")
	}
}
