package image

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"

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

// parseTemplate parses a commit message template (the default when
// empty).
func parseTemplate(text string) (*template.Template, error) {
	if text == "" {
		text = defaultMessageTemplate
	}
	t, err := template.New("commit message").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("spec.git.commit.messageTemplate: %w", err)
	}
	return t, nil
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
