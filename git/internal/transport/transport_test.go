package transport

import (
	"context"
	"errors"
	"testing"

	"github.com/gitopskit/kit/git"
)

func TestSanitizeTrimsRemoteNewlinesAndSecrets(t *testing.T) {
	s, err := New("https://example.com/repo.git", git.AuthOptions{Username: "u", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Sanitize(context.Background(), "fetching", errors.New("authentication required: s3cret rejected\n")).Error()
	if want := "fetching https://example.com/repo.git: authentication required: *** rejected"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}
