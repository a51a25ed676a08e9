package bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/minio/minio-go/v7"
)

// FetchOptions tunes Fetch. The zero value is the documented default.
type FetchOptions struct {
	// Concurrency is the number of objects downloaded at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Timeout bounds the call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Fetch downloads the objects of l, a listing this client made, into dst,
// each at the path its key names, several at once. dst must not exist or
// be an empty directory: the objects are written through an os.Root into
// a new directory beside it, and renamed into place only when every one
// arrived whole, with the ETag and size it was listed with, so a failed
// Fetch leaves dst as it was and nothing behind. An object that changed
// since the listing fails the call with ErrObjectChanged: list again.
//
// Files are written with mode 0644, folders 0755.
func (c *Client) Fetch(ctx context.Context, l *Listing, dst string, opts FetchOptions) error {
	if l == nil || l.endpoint != c.endpoint {
		return fmt.Errorf("fetch: %w: %w", ErrInvalidOptions, errNotListed)
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(opts.Timeout))
	defer cancel()
	start := time.Now()
	if err := checkDestination(dst); err != nil {
		return fmt.Errorf("fetch %s: %w", l.Bucket, err)
	}
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w", l.Bucket, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".bucket-*")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", l.Bucket, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w", l.Bucket, err)
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", l.Bucket, err)
	}
	defer root.Close()

	if err := c.fetchAll(ctx, root, l, max(1, cmpOr(opts.Concurrency, DefaultConcurrency))); err != nil {
		return fmt.Errorf("fetch %s: %w", l.Bucket, err)
	}
	root.Close()
	if err := renameInto(tmp, dst); err != nil {
		return fmt.Errorf("fetch %s: %w", l.Bucket, err)
	}
	done = true
	logr.FromContextOrDiscard(ctx).V(1).Info("fetched bucket", "bucket", l.Bucket, "objects", len(l.Objects),
		"bytes", l.Size, "revision", l.Revision, "duration", time.Since(start).String())
	return nil
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// fetchAll creates the folders, then downloads the objects on workers
// goroutines; the first failure stops the others.
func (c *Client) fetchAll(ctx context.Context, root *os.Root, l *Listing, workers int) error {
	// Folders first, in order, so that workers never race to create one.
	made := map[string]bool{}
	for _, o := range l.Objects {
		if _, err := splitKey(o.Key); err != nil { // a Listing is a value anyone can build
			return err
		}
		dir := path.Dir(o.Key)
		if dir == "." || made[dir] {
			continue
		}
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("key %s: %w", quoteKey(o.Key), err)
		}
		made[dir] = true
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(workers, len(l.Objects)) {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(l.Objects) || ctx.Err() != nil {
					return
				}
				if err := c.fetchOne(ctx, root, l, l.Objects[i], buf); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// fetchOne writes one object to its file, which must not exist yet. A
// .sourceignore List read is written from memory.
func (c *Client) fetchOne(ctx context.Context, root *os.Root, l *Listing, o Object, buf []byte) error {
	f, err := root.OpenFile(o.Key, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("key %s: %w", quoteKey(o.Key), err)
	}
	if read, ok := l.ignoreFiles[o.Key]; ok && read.etag == o.ETag && int64(len(read.data)) == o.Size {
		_, err = f.Write(read.data)
		if err != nil {
			err = fmt.Errorf("key %s: %w", quoteKey(o.Key), err)
		}
	} else {
		// Hide ReadFrom: os.File's would allocate a buffer per object.
		err = c.get(ctx, l.Bucket, o, struct{ io.Writer }{f}, buf)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("key %s: %w", quoteKey(o.Key), cerr)
	}
	return err
}

// download reads a small object into memory.
func (c *Client) download(ctx context.Context, bucket string, o Object) ([]byte, error) {
	var b bytes.Buffer
	if err := c.get(ctx, bucket, o, &b, make([]byte, 32<<10)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// get streams object o into w, asking the endpoint for the listed ETag
// (If-Match) and checking the ETag and size of what arrives: never more
// bytes than listed.
func (c *Client) get(ctx context.Context, bucket string, o Object, w io.Writer, buf []byte) error {
	var gopts minio.GetObjectOptions
	if o.ETag != "" {
		_ = gopts.SetMatchETag(o.ETag)
	}
	body, info, _, err := c.core.GetObject(ctx, bucket, o.Key, gopts)
	if err != nil {
		return c.wrap(ctx.Err(), "get", bucket, o.Key, err)
	}
	defer body.Close()
	changed := func(why string) error {
		return fmt.Errorf("get %s: %w: %s", target(bucket, o.Key), ErrObjectChanged, why)
	}
	if o.ETag != "" && info.ETag != "" && info.ETag != o.ETag {
		return changed(fmt.Sprintf("ETag %q, listed %q", info.ETag, o.ETag))
	}
	if info.Size >= 0 && info.Size != o.Size {
		return changed(fmt.Sprintf("%d bytes, listed %d", info.Size, o.Size))
	}
	n, err := io.CopyBuffer(w, io.LimitReader(body, o.Size+1), buf)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("get %s: %w", target(bucket, o.Key), context.Cause(ctx))
		}
		return c.wrap(nil, "get", bucket, o.Key, err)
	}
	switch {
	case n > o.Size:
		return changed(fmt.Sprintf("more than the %d bytes listed", o.Size))
	case n < o.Size:
		return changed(fmt.Sprintf("%d bytes, listed %d", n, o.Size))
	}
	return nil
}
