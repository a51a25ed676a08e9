package bucket

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/gitopskit/kit/artifact"
)

// Defaults of [ListOptions] and [FetchOptions].
const (
	// DefaultMaxObjects bounds the objects listed under the prefix,
	// selected or not (untar's default entry count).
	DefaultMaxObjects = 50_000
	// DefaultMaxSize bounds the bytes of the selected objects (untar's
	// default, so the artifact made of them can be unpacked with
	// defaults).
	DefaultMaxSize int64 = 100 << 20
	// DefaultTimeout bounds one List or one Fetch.
	DefaultTimeout = 5 * time.Minute
	// DefaultConcurrency is the number of objects downloaded at once.
	DefaultConcurrency = 16
)

// ListOptions says what List selects. The zero value lists the whole bucket
// with the default ignore rules and limits.
type ListOptions struct {
	// Prefix restricts the listing to keys that start with it. It is a
	// string prefix, as S3 has it ("apps/prod" lists "apps/prod/x" and
	// "apps/production/y"); end it with "/" to select a folder.
	Prefix string
	// Ignore holds caller patterns in .gitignore syntax, matched against
	// the whole key. They are applied last, after the defaults and the
	// .sourceignore objects, so "!pattern" can re-include what those left
	// out.
	Ignore []string
	// NoDefaultIgnore drops archive.DefaultIgnorePatterns.
	NoDefaultIgnore bool
	// NoIgnoreFile disables reading .sourceignore objects.
	NoIgnoreFile bool
	// MaxObjects bounds the objects listed under the prefix, selected or
	// not; 0 means DefaultMaxObjects, a negative value no limit.
	MaxObjects int
	// MaxSize bounds the bytes of the selected objects; 0 means
	// DefaultMaxSize, a negative value no limit.
	MaxSize int64
	// Timeout bounds the call; 0 means DefaultTimeout.
	Timeout time.Duration
	// Previous is an earlier listing of the same bucket by a client of
	// the same endpoint: its .sourceignore objects whose ETag did not
	// change are not downloaded again, so listing an unchanged bucket
	// costs the listing requests only.
	Previous *Listing
}

// Object is a selected object.
type Object struct {
	// Key is the object's key, and its path below the destination.
	Key string
	// ETag is the object's entity tag, without quotes.
	ETag string
	// Size is the object's size in bytes.
	Size int64
	// LastModified is when the object was last written.
	LastModified time.Time
}

// Listing is what List selected: the objects to download and the
// revision that identifies them.
type Listing struct {
	// Bucket and Prefix are what was listed.
	Bucket, Prefix string
	// Objects are the selected objects, in byte order of their keys.
	Objects []Object
	// Size is the total size of Objects, in bytes.
	Size int64
	// Ignored is the number of objects left out by ignore rules; folder
	// markers (keys ending in "/") are not counted.
	Ignored int
	// Revision is the SHA-256 digest ("sha256:<hex>") of the keys and
	// ETags of Objects: it changes exactly when the selected content
	// does, and not when an ignored object changes.
	Revision artifact.Digest

	endpoint    string
	ignoreFiles map[string]ignoreFile
}

// ignoreFile is a .sourceignore object as read, kept for the next listing.
type ignoreFile struct {
	etag string
	data []byte
}

func limitInt(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt
	}
	return v
}

func limit64(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt64
	}
	return v
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// List lists the objects of bucket under opts.Prefix, refuses keys that
// could escape a destination folder, applies the ignore rules — reading
// the .sourceignore objects it needs, unless opts.Previous holds them
// unchanged — and returns the selection with its revision. It downloads
// no selected object: compare the revision with the last one fetched to
// know whether Fetch has anything to do.
func (c *Client) List(ctx context.Context, bucket string, opts ListOptions) (*Listing, error) {
	if err := s3utils.CheckValidBucketName(bucket); err != nil {
		return nil, fmt.Errorf("list %q: %w: %s", bucket, ErrInvalidOptions, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(opts.Timeout))
	defer cancel()
	maxObjects := limitInt(opts.MaxObjects, DefaultMaxObjects)
	maxSize := limit64(opts.MaxSize, DefaultMaxSize)

	var entries []entry
	markers := 0
	listCtx, stop := context.WithCancel(ctx)
	defer stop()
	for o := range c.minio.ListObjectsIter(listCtx, bucket, minio.ListObjectsOptions{
		Prefix:     opts.Prefix,
		Recursive:  true,
		FetchOwner: new(false),
	}) {
		if o.Err != nil {
			return nil, c.wrap(ctx.Err(), "list", bucket, "", o.Err)
		}
		if len(entries)+markers >= maxObjects {
			return nil, fmt.Errorf("list %s: %w: more than %d objects under prefix %s", bucket, ErrLimitExceeded, maxObjects, quoteKey(opts.Prefix))
		}
		elems, err := splitKey(o.Key)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", bucket, err)
		}
		if !strings.HasPrefix(o.Key, opts.Prefix) {
			return nil, fmt.Errorf("list %s: key %s: %w: not under the prefix %s", bucket, quoteKey(o.Key), ErrUnsafeKey, quoteKey(opts.Prefix))
		}
		if isFolderMarker(o.Key) {
			markers++
			continue
		}
		if o.Size < 0 {
			return nil, fmt.Errorf("list %s: key %s: negative size %d", bucket, quoteKey(o.Key), o.Size)
		}
		entries = append(entries, entry{elems: elems, obj: Object{Key: o.Key, ETag: o.ETag, Size: o.Size, LastModified: o.LastModified}})
	}
	stop()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", bucket, context.Cause(ctx))
	}

	l := &Listing{Bucket: bucket, Prefix: opts.Prefix, endpoint: c.endpoint, ignoreFiles: map[string]ignoreFile{}}
	var prev map[string]ignoreFile
	if p := opts.Previous; p != nil && p.endpoint == c.endpoint && p.Bucket == bucket {
		prev = p.ignoreFiles
	}
	read := func(o Object) ([]string, error) {
		if f, ok := prev[o.Key]; ok && f.etag == o.ETag && o.ETag != "" {
			l.ignoreFiles[o.Key] = f
			return ignoreLines(f.data), nil
		}
		data, err := c.readIgnoreFile(ctx, bucket, o)
		if err != nil {
			return nil, err
		}
		l.ignoreFiles[o.Key] = ignoreFile{etag: o.ETag, data: data}
		return ignoreLines(data), nil
	}
	sel, err := selectObjects(ctx, entries, opts, read)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", bucket, err)
	}
	l.Objects, l.Ignored = sel.objects, sel.ignored
	for _, o := range l.Objects {
		l.Size += o.Size
		if l.Size > maxSize {
			return nil, fmt.Errorf("list %s: %w: selected objects exceed %d bytes", bucket, ErrLimitExceeded, maxSize)
		}
	}
	l.Revision = revision(l.Objects)
	logr.FromContextOrDiscard(ctx).V(1).Info("listed bucket", "bucket", bucket, "prefix", opts.Prefix,
		"selected", len(l.Objects), "ignored", l.Ignored, "bytes", l.Size, "revision", l.Revision)
	return l, nil
}

// revision is the SHA-256 digest of the objects' keys and ETags, in key
// order, each written as its length in decimal, a colon and itself, so
// that no two selections share an encoding.
func revision(objs []Object) artifact.Digest {
	h := sha256.New()
	var buf []byte
	for _, o := range objs {
		buf = buf[:0]
		buf = strconv.AppendInt(buf, int64(len(o.Key)), 10)
		buf = append(buf, ':')
		buf = append(buf, o.Key...)
		etag := etagOf(o)
		buf = strconv.AppendInt(buf, int64(len(etag)), 10)
		buf = append(buf, ':')
		buf = append(buf, etag...)
		h.Write(buf)
	}
	return artifact.NewDigest(artifact.SHA256, h)
}

// etagOf is the object's ETag, or, from an endpoint that gives none, its
// size and modification time.
func etagOf(o Object) string {
	if o.ETag != "" {
		return o.ETag
	}
	return "size=" + strconv.FormatInt(o.Size, 10) + ",mtime=" + strconv.FormatInt(o.LastModified.UnixNano(), 10)
}

// readIgnoreFile downloads a .sourceignore object, bounded.
func (c *Client) readIgnoreFile(ctx context.Context, bucket string, o Object) ([]byte, error) {
	if o.Size > maxIgnoreFileSize {
		return nil, fmt.Errorf("%s: %w (over %d bytes)", quoteKey(o.Key), errIgnoreFileTooLarge, maxIgnoreFileSize)
	}
	return c.download(ctx, bucket, o)
}

// errNotListed is returned by Fetch for a Listing of another endpoint.
var errNotListed = errors.New("the listing was made by a client of another endpoint")
