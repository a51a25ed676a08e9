package image

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/gitopskit/kit/kustomize"
)

// maxMessage bounds a commit message a template writes.
const maxMessage = 64 << 10

// defaultMessageTemplate is the commit message when
// spec.git.commit.messageTemplate is empty.
const defaultMessageTemplate = `Update images of {{ .AutomationObject }}
{{ range .Changed.Changes }}
- {{ .File }}: {{ .Object.Kind }} {{ .Object.Name }}: {{ .OldValue }} -> {{ .NewValue }}
{{- end }}
`

// TemplateData is what a commit message template is given.
type TemplateData struct {
	// AutomationObject is the automation's "namespace/name".
	AutomationObject string
	// Changed is what the run changed.
	Changed Changed
}

// Changed lists a run's changes.
type Changed struct {
	// Changes are every changed field, by file then line.
	Changes []Change
	// FileChanges are the changed files' paths, sorted.
	FileChanges []string
	// Objects are the changed objects, sorted and unique.
	Objects []kustomize.ObjectRef
	// Images are the new values written, sorted and unique.
	Images []string
}

// Change is one changed field.
type Change struct {
	// File is the file's path from the repository's root.
	File string
	// Object is the object the field belongs to.
	Object kustomize.ObjectRef
	// Setter is the marker's policy ("namespace:name", with :tag,
	// :name or :digest when it marks a part).
	Setter string
	// OldValue and NewValue are the field before and after.
	OldValue, NewValue string
}

// changes turns SetImages' result into template data.
func changes(res *kustomize.SetImagesResult) Changed {
	var c Changed
	objects := map[kustomize.ObjectRef]bool{}
	images := map[string]bool{}
	for _, f := range res.Files {
		c.FileChanges = append(c.FileChanges, f.Path)
		for _, fc := range f.Fields {
			setter := fc.Policy
			if fc.Field != "" {
				setter += ":" + fc.Field
			}
			c.Changes = append(c.Changes, Change{File: f.Path, Object: fc.Object, Setter: setter, OldValue: fc.Old, NewValue: fc.New})
			if !objects[fc.Object] {
				objects[fc.Object] = true
				c.Objects = append(c.Objects, fc.Object)
			}
			if !images[fc.New] {
				images[fc.New] = true
				c.Images = append(c.Images, fc.New)
			}
		}
	}
	slices.Sort(c.FileChanges)
	slices.SortFunc(c.Objects, func(a, b kustomize.ObjectRef) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	slices.Sort(c.Images)
	return c
}

// maxRangeDepth bounds nested range actions: with one, the work of a
// template grows with the number of changes, never with its square (the
// data's lists are flat, nothing needs a nested range).
const maxRangeDepth = 1

// wideVerb finds a printf width or precision of four digits or more, or
// one taken from an argument (*), which would allocate that many bytes
// before the output bound applies.
var wideVerb = regexp.MustCompile(`%[-+# 0]*([0-9]{4,}|\*)|\.([0-9]{4,}|\*)`)

// safePrintf is text/template's printf without huge widths.
func safePrintf(format string, args ...any) (string, error) {
	if wideVerb.MatchString(format) {
		return "", fmt.Errorf("printf %q: widths and precisions are limited to 3 digits", format)
	}
	return fmt.Sprintf(format, args...), nil
}

// parseTemplate parses a commit message template (the default when
// empty) and refuses what could make it run without end, whatever its
// output: a template calling a template (recursion), a range over
// anything but a field or variable of the data (a range over 1e12), and
// ranges nested deeper than maxRangeDepth.
func parseTemplate(text string) (*template.Template, error) {
	if text == "" {
		text = defaultMessageTemplate
	}
	t, err := template.New("commit message").Option("missingkey=error").
		Funcs(template.FuncMap{"printf": safePrintf}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("spec.git.commit.messageTemplate: %w", err)
	}
	for _, tt := range t.Templates() {
		if tt.Name() != t.Name() {
			return nil, fmt.Errorf("spec.git.commit.messageTemplate: defines template %q; define, block and template are not allowed", tt.Name())
		}
	}
	if err := checkNodes(t.Tree.Root, 0); err != nil {
		return nil, fmt.Errorf("spec.git.commit.messageTemplate: %w", err)
	}
	return t, nil
}

// checkNodes walks a template's tree for parseTemplate.
func checkNodes(n parse.Node, ranges int) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNodes(c, ranges); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return fmt.Errorf("calls template %q; define, block and template are not allowed", n.Name)
	case *parse.RangeNode:
		if ranges+1 > maxRangeDepth {
			return fmt.Errorf("ranges nested deeper than %d", maxRangeDepth)
		}
		if !rangesOverData(n.Pipe) {
			return fmt.Errorf("range over %s: only a field or variable of the data can be ranged over", n.Pipe)
		}
		if err := checkNodes(n.List, ranges+1); err != nil {
			return err
		}
		return checkNodes(n.ElseList, ranges)
	case *parse.IfNode:
		if err := checkNodes(n.List, ranges); err != nil {
			return err
		}
		return checkNodes(n.ElseList, ranges)
	case *parse.WithNode:
		if err := checkNodes(n.List, ranges); err != nil {
			return err
		}
		return checkNodes(n.ElseList, ranges)
	}
	return nil
}

// rangesOverData reports whether a range's pipeline is one field, chain
// or variable (.Changed.Changes, $c.Objects), no call and no literal.
func rangesOverData(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode, *parse.VariableNode, *parse.ChainNode, *parse.DotNode:
		return true
	}
	return false
}

// errMessageTooLong is a template writing more than maxMessage bytes.
var errMessageTooLong = fmt.Errorf("the commit message is longer than %d bytes", maxMessage)

// boundedBuffer refuses writes past maxMessage.
type boundedBuffer struct{ bytes.Buffer }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxMessage {
		return 0, errMessageTooLong
	}
	return b.Buffer.Write(p)
}

// renderMessage executes t with data into at most maxMessage bytes.
func renderMessage(t *template.Template, data TemplateData) (string, error) {
	var b boundedBuffer
	if err := t.Execute(&b, data); err != nil {
		if errors.Is(err, errMessageTooLong) {
			return "", fmt.Errorf("spec.git.commit.messageTemplate: %w", errMessageTooLong)
		}
		return "", fmt.Errorf("spec.git.commit.messageTemplate: %w", err)
	}
	msg := strings.TrimSpace(b.String())
	if msg == "" {
		return "", errors.New("spec.git.commit.messageTemplate: the commit message is empty")
	}
	return msg + "\n", nil
}
