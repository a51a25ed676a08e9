package gitopsctl

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type eventsOptions struct {
	forObject string
	watch     bool
}

func (a *app) eventsCommand() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the Kubernetes Events of gitopsd's objects",
		Long: `events lists the Events whose object is one of gitopsd's kinds (or the one
--for names), oldest first; --watch keeps printing new ones.`,
		Example: "  gitopsctl events\n  gitopsctl events --for ks/podinfo -n apps --watch\n  gitopsctl events -A",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("events: unexpected arguments %q (use --for <kind>/<name>)", args)
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			return a.events(cmd.Context(), cl, o)
		},
	}
	cmd.Flags().StringVar(&o.forObject, "for", "", "Only the events of this object: <kind>/<name>, e.g. ks/podinfo.")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "After listing, print new events as they come (until interrupted).")
	a.addAllNamespaces(cmd)
	return cmd
}

func (a *app) events(ctx context.Context, cl *cluster, o eventsOptions) error {
	ns := a.listNamespace(cl)
	var sel fields.Selector = fields.Everything()
	var only *kind
	if o.forObject != "" {
		k, rest, err := parseKind([]string{o.forObject})
		if err != nil || len(rest) != 1 {
			return usageErrorf("--for wants <kind>/<name>, e.g. ks/podinfo")
		}
		only = k
		sel = fields.AndSelectors(
			fields.OneTermEqualSelector("involvedObject.kind", k.Kind),
			fields.OneTermEqualSelector("involvedObject.name", rest[0]),
		)
	}
	ours := func(e *corev1.Event) bool {
		gv, err := schema.ParseGroupVersion(e.InvolvedObject.APIVersion)
		if err != nil {
			return false
		}
		k, ok := kindByGroupKind(schema.GroupKind{Group: gv.Group, Kind: e.InvolvedObject.Kind})
		return ok && (only == nil || k == only)
	}
	list := &corev1.EventList{}
	if err := cl.c.List(ctx, list, client.InNamespace(ns), client.MatchingFieldsSelector{Selector: sel}); err != nil {
		return err
	}
	var evs []corev1.Event
	for i := range list.Items {
		if ours(&list.Items[i]) {
			evs = append(evs, list.Items[i])
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return lastSeen(&evs[i]).Before(lastSeen(&evs[j])) })
	header := []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}
	if ns == "" {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := a.out.table(header...)
	msgCol := len(header) - 1
	t.fit = msgCol
	t.color = func(col int, text string) string {
		if header[col] == "TYPE" && text == corev1.EventTypeWarning {
			return yellow
		}
		return plain
	}
	add := func(e *corev1.Event) {
		row := []string{age(a.opts.Now(), lastSeen(e)), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name, oneLine(e.Message)}
		if ns == "" {
			row = append([]string{e.Namespace}, row...)
		}
		t.row(row...)
	}
	for i := range evs {
		add(&evs[i])
	}
	if len(evs) > 0 || o.watch {
		t.flush()
	} else {
		a.err.line(plain, "no events of gitopsd's objects in %s", namespaceNoun(ns))
	}
	if !o.watch {
		return nil
	}
	t.fit = -1
	rv := list.GetResourceVersion()
	for ctx.Err() == nil {
		w, err := cl.c.Watch(ctx, &corev1.EventList{}, client.InNamespace(ns), client.MatchingFieldsSelector{Selector: sel},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				rv = ""
				break
			}
			e, ok := ev.Object.(*corev1.Event)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			rv = e.ResourceVersion
			if ours(e) {
				add(e)
				t.flush()
			}
		}
		w.Stop()
		if rv == "" {
			// Expired: go on from now.
			l := &corev1.EventList{}
			if err := cl.c.List(ctx, l, client.InNamespace(ns), client.Limit(1)); err == nil {
				rv = l.GetResourceVersion()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// lastSeen is when an event last happened.
func lastSeen(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
