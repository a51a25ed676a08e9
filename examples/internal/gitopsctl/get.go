package gitopsctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

type getOptions struct {
	output string
	watch  bool
}

func (a *app) getCommand() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get <kind>|sources|all [name]",
		Short: "Show objects with their readiness, revision and suspension",
		Long: `get lists objects of a kind (or every source kind, or every kind) with
whether they are Ready, the revision they offer or applied, whether they
are suspended, the Ready message and their age. --watch keeps the list
open and prints an object again each time it changes.

Kinds: ` + kindList() + ` (and their short names: gitrepo, ocirepo, ks, or
Flux's "source git" and "source oci").`,
		Example: `  gitopsctl get ks
  gitopsctl get source git podinfo -n apps
  gitopsctl get all -A
  gitopsctl get ks --watch
  gitopsctl get gitrepo podinfo -o yaml`,
		ValidArgsFunction: a.completeKindThenName,
		RunE: func(cmd *cobra.Command, args []string) error {
			ks, rest, err := parseKinds(args)
			if err != nil {
				return err
			}
			if len(rest) > 1 {
				return usageErrorf("get: at most one name, got %q", rest)
			}
			name := ""
			if len(rest) == 1 {
				name = rest[0]
			}
			switch o.output {
			case "table", "wide", "yaml", "json":
			default:
				return usageErrorf("get: -o must be table, wide, yaml or json, not %q", o.output)
			}
			return a.get(cmd.Context(), ks, name, o)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "Output format: table, wide (with each kind's own columns), yaml or json.")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "After listing, print each object again whenever it changes (until interrupted).")
	a.addAllNamespaces(cmd)
	return cmd
}

func (a *app) get(ctx context.Context, ks []*kind, name string, o getOptions) error {
	cl, err := a.cluster()
	if err != nil {
		return err
	}
	ns := a.listNamespace(cl)
	if name != "" && ns == "" {
		return usageErrorf("get: a name cannot be combined with --all-namespaces")
	}
	var all []unstructured.Unstructured
	perKind := make([][]unstructured.Unstructured, len(ks))
	versions := make([]string, len(ks)) // where a watch starts
	for i, k := range ks {
		var items []unstructured.Unstructured
		if name != "" {
			obj, err := cl.get(ctx, k, client.ObjectKey{Namespace: ns, Name: name})
			if err != nil {
				if len(ks) > 1 && strings.HasSuffix(err.Error(), "not found") {
					continue
				}
				return err
			}
			items, versions[i] = []unstructured.Unstructured{*obj}, obj.GetResourceVersion()
		} else {
			l := k.newList()
			if err := cl.c.List(ctx, l, client.InNamespace(ns)); err != nil {
				return readable(err, k.GVK().GroupKind(), k.GroupVersion.String(), client.ObjectKey{Namespace: ns})
			}
			items, versions[i] = l.Items, l.GetResourceVersion()
		}
		sortObjects(items)
		perKind[i] = items
		all = append(all, items...)
	}
	if name != "" && len(all) == 0 && !o.watch {
		return fmt.Errorf("no object named %q in namespace %s", name, ns)
	}
	var watching *statusTable
	switch o.output {
	case "yaml", "json":
		if len(all) > 0 || !o.watch {
			if err := a.printObjects(all, o.output, name != "" && len(all) == 1); err != nil {
				return err
			}
		}
	default:
		if o.watch {
			// One table, so that the rows the watch adds stay aligned.
			watching = a.statusTable(ks[0], len(ks) > 1, ns == "", o.output == "wide")
			for i, k := range ks {
				watching.k = k
				for j := range perKind[i] {
					watching.add(&perKind[i][j])
				}
			}
			watching.flush()
			break
		}
		printed := false
		for i, k := range ks {
			if len(perKind[i]) == 0 {
				continue
			}
			if printed {
				fmt.Fprintln(a.stdout)
			}
			t := a.statusTable(k, len(ks) > 1, ns == "", o.output == "wide")
			for j := range perKind[i] {
				t.add(&perKind[i][j])
			}
			t.flush()
			printed = true
		}
		if !printed {
			fmt.Fprintf(a.stderr, "no %s found in %s\n", kindsNoun(ks), namespaceNoun(ns))
		}
	}
	if !o.watch {
		return nil
	}
	return a.watchObjects(ctx, cl, ks, versions, ns, name, o, watching)
}

// printObjects prints objects as YAML or JSON: the object itself when one
// was asked for by name, else a List.
func (a *app) printObjects(objs []unstructured.Unstructured, format string, single bool) error {
	var v any
	if single {
		v = objs[0].Object
	} else {
		items := make([]any, 0, len(objs))
		for _, o := range objs {
			items = append(items, o.Object)
		}
		v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	}
	return writeFormatted(a.stdout, v, format)
}

// writeFormatted writes v as YAML or indented JSON.
func writeFormatted(w interface{ Write([]byte) (int, error) }, v any, format string) error {
	var data []byte
	var err error
	if format == "json" {
		data, err = json.MarshalIndent(v, "", "  ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// statusTable is the table of get and get --watch.
type statusTable struct {
	a        *app
	k        *kind
	t        *table
	withKind bool
	withNS   bool
	wide     bool
	ready    int // the READY column
}

func (a *app) statusTable(k *kind, withKind, withNS, wide bool) *statusTable {
	header := []string{"NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"}
	if withNS {
		header = append([]string{"NAMESPACE"}, header...)
	}
	if wide {
		for _, c := range k.Columns {
			header = append(header, c.Header)
		}
	}
	header = append(header, "AGE")
	st := &statusTable{a: a, k: k, t: a.out.table(header...), withKind: withKind, withNS: withNS, wide: wide, ready: 3}
	if withNS {
		st.ready = 4
	}
	if !wide {
		st.t.fit = st.ready + 1 // MESSAGE
	}
	st.t.color = func(col int, text string) string {
		if col != st.ready {
			return plain
		}
		return readyColor(text)
	}
	return st
}

// readyColor is the colour of a Ready status.
func readyColor(s string) string {
	switch s {
	case "True":
		return green
	case "False":
		return red
	default:
		return yellow
	}
}

func (st *statusTable) add(obj *unstructured.Unstructured) { st.addRow(obj, "") }

// addRow adds obj's row; note, when set, replaces its age.
func (st *statusTable) addRow(obj *unstructured.Unstructured, note string) {
	s := st.k.statusOf(obj)
	name := obj.GetName()
	if st.withKind {
		name = strings.ToLower(st.k.Kind) + "/" + name
	}
	rev := s.Revision
	if !st.wide {
		rev = shortRevision(rev)
	}
	ready := string(s.Ready)
	if ready == "" {
		ready = "Unknown"
	}
	row := []string{name, orDash(rev), boolWord(s.Suspended), ready, orDash(oneLine(s.Message))}
	if st.withNS {
		row = append([]string{obj.GetNamespace()}, row...)
	}
	if st.wide {
		for _, c := range st.k.Columns {
			row = append(row, orDash(str(obj, c.Path)))
		}
	}
	if note == "" {
		note = age(st.a.opts.Now(), obj.GetCreationTimestamp().Time)
	}
	st.t.row(append(row, note)...)
}

func (st *statusTable) flush() { st.t.flush() }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func boolWord(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func sortObjects(items []unstructured.Unstructured) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
}

func kindsNoun(ks []*kind) string {
	if len(ks) == 1 {
		return ks[0].Kind + " objects"
	}
	return "objects"
}

func namespaceNoun(ns string) string {
	if ns == "" {
		return "any namespace"
	}
	return "namespace " + ns
}

// watchObjects prints a row each time an object of ks changes, until ctx
// ends (which is no error: the user stopped watching).
func (a *app) watchObjects(ctx context.Context, cl *cluster, ks []*kind, versions []string, ns, name string, o getOptions, t *statusTable) error {
	type event struct {
		k   *kind
		obj *unstructured.Unstructured
		typ watch.EventType
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan event)
	errs := make(chan error, len(ks))
	for i, k := range ks {
		go func() {
			errs <- watchKind(ctx, cl, k, versions[i], ns, name, func(typ watch.EventType, obj *unstructured.Unstructured) {
				select {
				case events <- event{k, obj, typ}:
				case <-ctx.Done():
				}
			})
		}()
	}
	if t != nil {
		t.t.fit = -1 // rows come one at a time: keep them whole
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case ev := <-events:
			if t == nil {
				if o.output == "yaml" {
					fmt.Fprintln(a.stdout, "---")
				}
				if err := writeFormatted(a.stdout, ev.obj.Object, o.output); err != nil {
					return err
				}
				continue
			}
			t.k = ev.k
			note := ""
			if ev.typ == watch.Deleted {
				note = "deleted"
			}
			t.addRow(ev.obj, note)
			t.flush()
		}
	}
}

// watchKind streams the changes of objects of kind k (named name, when
// set) to fn from resource version rv until ctx ends, listing again when
// the watch ends.
func watchKind(ctx context.Context, cl *cluster, k *kind, rv, ns, name string, fn func(watch.EventType, *unstructured.Unstructured)) error {
	opts := []client.ListOption{client.InNamespace(ns)}
	if name != "" {
		opts = append(opts, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
	}
	for ctx.Err() == nil {
		if rv == "" {
			l := k.newList()
			if err := cl.c.List(ctx, l, opts...); err != nil {
				return readable(err, k.GVK().GroupKind(), k.GroupVersion.String(), client.ObjectKey{Namespace: ns})
			}
			rv = l.GetResourceVersion()
		}
		raw := &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}}
		w, err := cl.c.Watch(ctx, k.newList(), append(opts, raw)...)
		if err != nil {
			return readable(err, k.GVK().GroupKind(), k.GroupVersion.String(), client.ObjectKey{Namespace: ns})
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				rv = "" // expired (410 Gone, say): start from a new list
				break
			}
			if obj, ok := ev.Object.(*unstructured.Unstructured); ok && (ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted) {
				rv = obj.GetResourceVersion()
				fn(ev.Type, obj)
			}
		}
		w.Stop()
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return errors.Join(ctx.Err())
}
