package gittest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
)

// maxRequestLines bounds the pkt-lines of an upload-pack request.
const maxRequestLines = 1 << 20

// uploadRequest is a parsed upload-pack request (protocol v0/v1).
type uploadRequest struct {
	wants    []plumbing.Hash
	caps     []string
	shallows []plumbing.Hash
	depth    int
	haves    []plumbing.Hash
	done     bool
}

// parseUploadRequest parses the client side of an upload-pack exchange:
// want lines (capabilities on the first), shallow and deepen lines, a flush,
// have lines, flushes, and an optional done.
func parseUploadRequest(r io.Reader) (*uploadRequest, error) {
	req := &uploadRequest{}
	sc := pktline.NewScanner(r)
	inHaves := false
	for n := 0; sc.Scan(); n++ {
		if n > maxRequestLines {
			return nil, errors.New("request too long")
		}
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\n"))
		if len(line) == 0 { // flush
			inHaves = true
			continue
		}
		cmd, arg, _ := strings.Cut(string(line), " ")
		switch {
		case cmd == "want" && !inHaves:
			hash, caps, _ := strings.Cut(arg, " ")
			h, err := parseHash(hash)
			if err != nil {
				return nil, err
			}
			if len(req.wants) == 0 && caps != "" {
				req.caps = strings.Fields(caps)
			}
			req.wants = append(req.wants, h)
		case cmd == "shallow" && !inHaves:
			h, err := parseHash(arg)
			if err != nil {
				return nil, err
			}
			req.shallows = append(req.shallows, h)
		case cmd == "deepen" && !inHaves:
			d, err := strconv.Atoi(arg)
			if err != nil || d <= 0 || d > 1<<30 {
				return nil, fmt.Errorf("bad deepen %q", arg)
			}
			req.depth = d
		case cmd == "have":
			h, err := parseHash(arg)
			if err != nil {
				return nil, err
			}
			req.haves = append(req.haves, h)
			inHaves = true
		case cmd == "done":
			req.done = true
			return req, nil
		default:
			return nil, fmt.Errorf("unexpected line %q", truncate(string(line)))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(req.wants) == 0 {
		return nil, errors.New("no want")
	}
	return req, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func parseHash(s string) (plumbing.Hash, error) {
	if len(s) != 40 {
		return plumbing.ZeroHash, fmt.Errorf("bad object id %q", truncate(s))
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return plumbing.ZeroHash, fmt.Errorf("bad object id %q", truncate(s))
		}
	}
	return plumbing.NewHash(s), nil
}

// advertise builds the reference advertisement of a repository.
func advertise(st storage.Storer, service string) (*packp.AdvRefs, error) {
	ar := packp.NewAdvRefs()
	caps := ar.Capabilities
	_ = caps.Set(capability.Agent, "gitopskit-gittest/1")
	_ = caps.Set(capability.OFSDelta)
	if service == "git-upload-pack" {
		_ = caps.Set(capability.Shallow)
		_ = caps.Set(capability.AllowReachableSHA1InWant)
	} else {
		_ = caps.Set(capability.ReportStatus)
		_ = caps.Set(capability.DeleteRefs)
		_ = caps.Set(capability.PushOptions)
	}
	iter, err := st.IterReferences()
	if err != nil {
		return nil, err
	}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() != plumbing.HashReference || ref.Name() == plumbing.HEAD {
			return nil
		}
		ar.References[ref.Name().String()] = ref.Hash()
		if ref.Name().IsTag() {
			if t, err := object.GetTag(st, ref.Hash()); err == nil {
				ar.Peeled[ref.Name().String()] = t.Target
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if head, err := st.Reference(plumbing.HEAD); err == nil && head.Type() == plumbing.SymbolicReference {
		if target, err := st.Reference(head.Target()); err == nil {
			h := target.Hash()
			ar.Head = &h
			_ = caps.Add(capability.SymRef, "HEAD:"+head.Target().String())
		}
	}
	return ar, nil
}

// uploadPack answers one stateless upload-pack request. A want that is
// not ours (see checkWants) is answered with an ERR packet, as git does.
func uploadPack(ctx context.Context, st storage.Storer, req *uploadRequest, w io.Writer) error {
	if err := checkWants(st, req.wants); err != nil {
		return pktline.NewEncoder(w).Encodef("ERR upload-pack: %s\n", err)
	}
	var haves []plumbing.Hash
	for _, h := range req.haves {
		if _, err := st.EncodedObject(plumbing.CommitObject, h); err == nil {
			haves = append(haves, h)
		}
	}
	shallowInfo := req.depth > 0
	var objs, boundary []plumbing.Hash
	var err error
	if req.depth > 0 {
		objs, boundary, err = shallowObjects(st, req.wants, haves, req.depth)
	} else {
		var ignore []plumbing.Hash
		ignore, err = revlist.Objects(st, haves, nil)
		if err == nil {
			objs, err = revlist.Objects(st, req.wants, ignore)
		}
	}
	if err != nil {
		return err
	}
	if shallowInfo {
		su := packp.ShallowUpdate{Shallows: boundary}
		if err := su.Encode(w); err != nil {
			return err
		}
	}
	if !req.done {
		if len(req.haves) > 0 {
			return pktline.NewEncoder(w).Encodef("NAK\n")
		}
		return nil
	}
	var sr packp.ServerResponse
	if len(haves) > 0 {
		sr.ACKs = haves[:1]
	}
	if err := sr.Encode(w, false); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Window 0: no delta search. The test server favours speed over bytes on
	// the loopback.
	_, err = packfile.NewEncoder(w, st, false).Encode(objs, 0)
	return err
}

// checkWants accepts wants that name an advertised reference's object (or
// the object an advertised tag peels to), or a commit reachable from one
// (the server advertises allow-reachable-sha1-in-want). Anything else —
// a missing object, an unreachable commit, a tree or blob by id — is "not
// our ref", so a client can never fetch objects no reference leads to.
func checkWants(st storage.Storer, wants []plumbing.Hash) error {
	tips := map[plumbing.Hash]bool{}
	iter, err := st.IterReferences()
	if err != nil {
		return err
	}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() != plumbing.HashReference {
			return nil
		}
		tips[ref.Hash()] = true
		if t, err := object.GetTag(st, ref.Hash()); err == nil {
			tips[t.Target] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	var reachable map[plumbing.Hash]bool // computed once, when needed
	for _, want := range wants {
		if tips[want] {
			continue
		}
		if _, err := st.EncodedObject(plumbing.CommitObject, want); err != nil {
			return fmt.Errorf("not our ref %s", want)
		}
		if reachable == nil {
			if reachable, err = reachableCommits(st, tips); err != nil {
				return err
			}
		}
		if !reachable[want] {
			return fmt.Errorf("not our ref %s", want)
		}
	}
	return nil
}

// reachableCommits returns every commit reachable from the tips.
func reachableCommits(st storer.EncodedObjectStorer, tips map[plumbing.Hash]bool) (map[plumbing.Hash]bool, error) {
	seen := map[plumbing.Hash]bool{}
	var queue []plumbing.Hash
	for h := range tips {
		queue = append(queue, h)
	}
	for len(queue) > 0 {
		h := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[h] {
			continue
		}
		c, err := object.GetCommit(st, h)
		if err != nil {
			continue // a tag's or tree's id, or a commit this repository lacks
		}
		seen[h] = true
		queue = append(queue, c.ParentHashes...)
	}
	return seen, nil
}

// shallowObjects returns the objects of the wants' history cut at depth, the
// boundary commits whose parents are left out, minus what the haves' trees hold.
func shallowObjects(st storer.EncodedObjectStorer, wants, haves []plumbing.Hash, depth int) (objs, boundary []plumbing.Hash, err error) {
	exclude := map[plumbing.Hash]bool{}
	for _, h := range haves {
		c, err := object.GetCommit(st, h)
		if err != nil {
			return nil, nil, err
		}
		exclude[h] = true
		if err := walkTree(st, c.TreeHash, exclude, nil); err != nil {
			return nil, nil, err
		}
	}
	seen := map[plumbing.Hash]bool{}
	add := func(h plumbing.Hash) {
		if !seen[h] && !exclude[h] {
			seen[h] = true
			objs = append(objs, h)
		}
	}
	type item struct {
		h plumbing.Hash
		d int
	}
	var queue []item
	for _, h := range wants {
		o, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, nil, err
		}
		for o.Type() == plumbing.TagObject {
			add(o.Hash())
			t, err := object.DecodeTag(st, o)
			if err != nil {
				return nil, nil, err
			}
			if o, err = st.EncodedObject(plumbing.AnyObject, t.Target); err != nil {
				return nil, nil, err
			}
		}
		if o.Type() == plumbing.CommitObject {
			queue = append(queue, item{o.Hash(), 1})
		} else {
			add(o.Hash())
		}
	}
	visited := map[plumbing.Hash]bool{}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if visited[it.h] || exclude[it.h] {
			continue
		}
		visited[it.h] = true
		c, err := object.GetCommit(st, it.h)
		if err != nil {
			return nil, nil, err
		}
		add(c.Hash)
		if err := walkTree(st, c.TreeHash, exclude, add); err != nil {
			return nil, nil, err
		}
		if it.d >= depth {
			if len(c.ParentHashes) > 0 {
				boundary = append(boundary, c.Hash)
			}
			continue
		}
		for _, p := range c.ParentHashes {
			queue = append(queue, item{p, it.d + 1})
		}
	}
	sort.Slice(boundary, func(i, j int) bool { return boundary[i].String() < boundary[j].String() })
	return objs, boundary, nil
}

// walkTree visits a tree and everything under it once. With add nil it fills
// seen; otherwise it calls add for objects not in seen, and marks them.
func walkTree(st storer.EncodedObjectStorer, h plumbing.Hash, seen map[plumbing.Hash]bool, add func(plumbing.Hash)) error {
	if seen[h] {
		return nil
	}
	if add != nil {
		add(h)
	}
	seen[h] = true
	t, err := object.GetTree(st, h)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		switch {
		case e.Mode == filemode.Submodule:
		case e.Mode == filemode.Dir:
			if err := walkTree(st, e.Hash, seen, add); err != nil {
				return err
			}
		case !seen[e.Hash]:
			if add != nil {
				add(e.Hash)
			}
			seen[e.Hash] = true
		}
	}
	return nil
}

// receivePack applies a push: it stores the pack, then updates each reference
// only if it still has the old value the client saw (a compare-and-swap, as
// git's receive-pack does), and reports per-reference status.
func receivePack(st storage.Storer, r io.Reader, w io.Writer) error {
	req := packp.NewReferenceUpdateRequest()
	if err := req.Decode(io.NopCloser(r)); err != nil {
		return fmt.Errorf("decode push: %w", err)
	}
	rs := packp.NewReportStatus()
	rs.UnpackStatus = "ok"
	if req.Capabilities.Supports(capability.PushOptions) && req.Packfile != nil {
		// Push options follow the commands, up to a flush; go-git's decoder
		// leaves them at the head of the pack stream.
		sc := pktline.NewScanner(req.Packfile)
		for n := 0; sc.Scan() && len(sc.Bytes()) > 0; n++ {
			if n > 1024 {
				return errors.New("too many push options")
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("push options: %w", err)
		}
	}
	if req.Packfile != nil {
		if err := packfile.UpdateObjectStorage(st, req.Packfile); err != nil && !errors.Is(err, packfile.ErrEmptyPackfile) {
			rs.UnpackStatus = "unpack failed: " + err.Error()
			for _, c := range req.Commands {
				rs.CommandStatuses = append(rs.CommandStatuses, &packp.CommandStatus{ReferenceName: c.Name, Status: "unpacker error"})
			}
			return rs.Encode(w)
		}
	}
	for _, c := range req.Commands {
		rs.CommandStatuses = append(rs.CommandStatuses, &packp.CommandStatus{ReferenceName: c.Name, Status: updateRef(st, c)})
	}
	if !req.Capabilities.Supports(capability.ReportStatus) {
		return nil
	}
	return rs.Encode(w)
}

func updateRef(st storage.Storer, c *packp.Command) string {
	if !strings.HasPrefix(c.Name.String(), "refs/") {
		return "funny refname"
	}
	cur, err := st.Reference(c.Name)
	var old plumbing.Hash
	if err == nil {
		old = cur.Hash()
	}
	if old != c.Old {
		return "stale info" // the client's view is out of date: fetch first
	}
	if c.New.IsZero() {
		if err := st.RemoveReference(c.Name); err != nil {
			return "failed to delete"
		}
		return "ok"
	}
	if _, err := st.EncodedObject(plumbing.AnyObject, c.New); err != nil {
		return "missing necessary objects"
	}
	if err := st.SetReference(plumbing.NewHashReference(c.Name, c.New)); err != nil {
		return "failed to update ref"
	}
	return "ok"
}
