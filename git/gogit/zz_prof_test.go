package gogit_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/git/gogit"
)

func BenchmarkZZClone(b *testing.B) {
	srv, _ := benchRepo(b)
	c, _ := gogit.New(srv.HTTPURL("big.git"))
	for b.Loop() {
		if _, err := c.Clone(context.Background(), filepath.Join(b.TempDir(), "c"), gogit.CloneOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
