package receivers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"
)

// maxTags bounds the tags a payload reports.
const maxTags = 100

// decodeObject unmarshals a JSON object; anything else is ErrInvalidPayload.
// The error never quotes the body.
func decodeObject(body []byte, v any) error {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrInvalidPayload)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: malformed JSON", ErrInvalidPayload)
	}
	return nil
}

// ParseGitHub reads a GitHub (or Gitea) webhook body, JSON or
// form-encoded (payload=…): the repository, and for a push its ref and head
// commit.
func ParseGitHub(contentType string, body []byte) (Payload, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("payload") == "" {
			return Payload{}, fmt.Errorf("%w: form without a payload field", ErrInvalidPayload)
		}
		body = []byte(form.Get("payload"))
	}
	var p struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Payload{}, err
	}
	return Payload{Repository: p.Repository.FullName, Ref: p.Ref, Commit: p.After}, nil
}

// ParseGitLab reads a GitLab webhook body: the project, and for a push its
// ref and commit.
func ParseGitLab(body []byte) (Payload, error) {
	var p struct {
		Ref         string `json:"ref"`
		After       string `json:"after"`
		CheckoutSHA string `json:"checkout_sha"`
		Project     struct {
			PathWithNamespace string `json:"path_with_namespace"`
		} `json:"project"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Payload{}, err
	}
	commit := p.CheckoutSHA
	if commit == "" {
		commit = p.After
	}
	return Payload{Repository: p.Project.PathWithNamespace, Ref: p.Ref, Commit: commit}, nil
}

// ParseBitbucket reads a Bitbucket Server (refs_changed) or Bitbucket
// Cloud (repo:push) webhook body.
func ParseBitbucket(body []byte) (Payload, error) {
	var p struct {
		Changes []struct { // Server
			Ref struct {
				ID string `json:"id"`
			} `json:"ref"`
			ToHash string `json:"toHash"`
		} `json:"changes"`
		Push struct { // Cloud
			Changes []struct {
				New *struct {
					Name   string `json:"name"`
					Target struct {
						Hash string `json:"hash"`
					} `json:"target"`
				} `json:"new"`
			} `json:"changes"`
		} `json:"push"`
		Repository struct {
			FullName string `json:"full_name"` // Cloud
			Slug     string `json:"slug"`      // Server
			Project  struct {
				Key string `json:"key"`
			} `json:"project"`
		} `json:"repository"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Payload{}, err
	}
	out := Payload{Repository: p.Repository.FullName}
	if out.Repository == "" && p.Repository.Slug != "" {
		out.Repository = p.Repository.Project.Key + "/" + p.Repository.Slug
	}
	switch {
	case len(p.Changes) > 0:
		out.Ref, out.Commit = p.Changes[0].Ref.ID, p.Changes[0].ToHash
	case len(p.Push.Changes) > 0 && p.Push.Changes[0].New != nil:
		out.Ref, out.Commit = p.Push.Changes[0].New.Name, p.Push.Changes[0].New.Target.Hash
	}
	return out, nil
}

// ParseHarbor reads a Harbor webhook body: its event type (PUSH_ARTIFACT…),
// the repository and the pushed tags.
func ParseHarbor(body []byte) (Payload, string, error) {
	var p struct {
		Type      string `json:"type"`
		EventData struct {
			Resources []struct {
				Tag string `json:"tag"`
			} `json:"resources"`
			Repository struct {
				RepoFullName string `json:"repo_full_name"`
			} `json:"repository"`
		} `json:"event_data"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Payload{}, "", err
	}
	if p.Type == "" {
		return Payload{}, "", fmt.Errorf("%w: no event type", ErrInvalidPayload)
	}
	out := Payload{Repository: p.EventData.Repository.RepoFullName}
	for _, r := range p.EventData.Resources {
		if r.Tag != "" && len(out.Tags) < maxTags {
			out.Tags = append(out.Tags, r.Tag)
		}
	}
	return out, p.Type, nil
}

// ParseDockerHub reads a Docker Hub push webhook body.
func ParseDockerHub(body []byte) (Payload, error) {
	var p struct {
		PushData struct {
			Tag string `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Payload{}, err
	}
	if p.Repository.RepoName == "" {
		return Payload{}, fmt.Errorf("%w: no repository.repo_name", ErrInvalidPayload)
	}
	out := Payload{Repository: p.Repository.RepoName}
	if p.PushData.Tag != "" {
		out.Tags = []string{p.PushData.Tag}
	}
	return out, nil
}

// ParseQuay reads a Quay repository-push notification body.
func ParseQuay(body []byte) (Payload, error) {
	var p struct {
		Repository  string   `json:"repository"`
		DockerURL   string   `json:"docker_url"`
		UpdatedTags []string `json:"updated_tags"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Payload{}, err
	}
	if p.DockerURL == "" && p.Repository == "" {
		return Payload{}, fmt.Errorf("%w: no docker_url or repository", ErrInvalidPayload)
	}
	out := Payload{Repository: p.DockerURL}
	if out.Repository == "" {
		out.Repository = p.Repository
	}
	if len(p.UpdatedTags) > maxTags {
		p.UpdatedTags = p.UpdatedTags[:maxTags]
	}
	out.Tags = p.UpdatedTags
	return out, nil
}

// ParseNexus reads a Nexus Repository Manager webhook body.
func ParseNexus(body []byte) (Payload, error) {
	var p struct {
		Action         string `json:"action"`
		RepositoryName string `json:"repositoryName"`
		Component      struct {
			Version string `json:"version"`
		} `json:"component"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Payload{}, err
	}
	if p.RepositoryName == "" {
		return Payload{}, fmt.Errorf("%w: no repositoryName", ErrInvalidPayload)
	}
	out := Payload{Repository: p.RepositoryName}
	if p.Component.Version != "" {
		out.Tags = []string{p.Component.Version}
	}
	return out, nil
}

// ParseCDEvent reads a CDEvent in CloudEvents binary mode: the body is the
// CDEvent, ceType the Ce-Type header (when set, it must name the same type).
// The context's version, id, source, type (dev.cdevents.<subject>.<predicate>.<version>)
// and RFC 3339 timestamp, and the subject's id, are required.
func ParseCDEvent(ceType string, body []byte) (string, Payload, error) {
	var p struct {
		Context struct {
			Version   string `json:"version"`
			ID        string `json:"id"`
			Source    string `json:"source"`
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
		} `json:"context"`
		Subject struct {
			ID     string `json:"id"`
			Source string `json:"source"`
		} `json:"subject"`
	}
	if err := decodeObject(body, &p); err != nil {
		return "", Payload{}, err
	}
	c := p.Context
	switch {
	case c.Version == "" || c.ID == "" || c.Source == "":
		return "", Payload{}, fmt.Errorf("%w: the CDEvent context needs version, id and source", ErrInvalidPayload)
	case !strings.HasPrefix(c.Type, "dev.cdevents.") || strings.Count(c.Type, ".") < 4:
		return "", Payload{}, fmt.Errorf("%w: the CDEvent type must be dev.cdevents.<subject>.<predicate>.<version>", ErrInvalidPayload)
	case ceType != "" && ceType != c.Type:
		return "", Payload{}, fmt.Errorf("%w: Ce-Type and the CDEvent type differ", ErrInvalidPayload)
	case p.Subject.ID == "":
		return "", Payload{}, fmt.Errorf("%w: the CDEvent subject needs an id", ErrInvalidPayload)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Timestamp); err != nil {
		return "", Payload{}, fmt.Errorf("%w: the CDEvent timestamp is not RFC 3339", ErrInvalidPayload)
	}
	repo := p.Subject.Source
	if repo == "" {
		repo = p.Subject.ID
	}
	return c.Type, Payload{Repository: repo}, nil
}
