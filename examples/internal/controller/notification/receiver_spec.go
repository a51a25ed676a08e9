package notification

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events/receivers"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// WebhookPathIndex is the field index of Receivers by status.webhookPath,
// which gitopsd's receiver server looks a webhook's Receiver up with.
const WebhookPathIndex = ".status.webhookPath"

// IndexWebhookPath is the WebhookPathIndex function: a Receiver's
// published path, none before its first successful reconcile.
func IndexWebhookPath(o client.Object) []string {
	r, ok := o.(*notificationv1.Receiver)
	if !ok || r.Status.WebhookPath == "" {
		return nil
	}
	return []string{r.Status.WebhookPath}
}

// ErrNoToken: the Receiver's Secret exists but holds no token.
var ErrNoToken = errors.New("no token")

// ErrInvalidResource is wrapped by ReceiverResources' errors: a resource
// gitopsd cannot (or must not) ask to reconcile.
var ErrInvalidResource = errors.New("invalid resource")

// ReceiverToken reads the token of the Receiver's Secret through r (an
// uncached reader: gitopsd caches no Secret). A missing Secret is the
// API's NotFound error; a Secret without a non-empty token is ErrNoToken.
// Errors name the Secret, never its data.
func ReceiverToken(ctx context.Context, r client.Reader, obj *notificationv1.Receiver) (string, error) {
	name := obj.Spec.SecretRef.Name
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: name}, &s); err != nil {
		return "", fmt.Errorf("reading Secret '%s/%s': %w", obj.Namespace, name, err)
	}
	token := string(s.Data[notificationv1.ReceiverTokenKey])
	if token == "" {
		return "", fmt.Errorf("secret '%s/%s': %w in key '%s'", obj.Namespace, name, ErrNoToken, notificationv1.ReceiverTokenKey)
	}
	return token, nil
}

// gitopsGroupSuffix ends every API group of gitopsd's kinds.
const gitopsGroupSuffix = ".gitopskit.dev"

// ReceiverResources returns the Receiver's resources as events/receivers
// takes them: the namespace defaulted to the Receiver's, and the
// apiVersion resolved from s when empty (the one version of the kind among
// gitopsd's API groups). Only gitopsd's own kinds, as s knows them, may be
// named: a webhook must not make gitopsd annotate arbitrary objects
// (Deployments, Secrets) with its own, much wider, permissions. A name of
// "*" needs matchLabels. Every error wraps ErrInvalidResource and names
// the resource by its index in spec.resources.
func ReceiverResources(s *runtime.Scheme, obj *notificationv1.Receiver) ([]receivers.Resource, error) {
	out := make([]receivers.Resource, 0, len(obj.Spec.Resources))
	var errs []error
	for i, ref := range obj.Spec.Resources {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%w: spec.resources[%d] %s '%s': %s", ErrInvalidResource, i, ref.Kind, ref.Name, fmt.Sprintf(format, args...)))
		}
		apiVersion, err := resolveAPIVersion(s, ref.APIVersion, ref.Kind)
		if err != nil {
			bad("%v", err)
			continue
		}
		if ref.Name == "*" && len(ref.MatchLabels) == 0 {
			bad("name '*' needs matchLabels")
			continue
		}
		ns := ref.Namespace
		if ns == "" {
			ns = obj.Namespace
		}
		out = append(out, receivers.Resource{
			APIVersion: apiVersion, Kind: ref.Kind, Name: ref.Name, Namespace: ns, MatchLabels: ref.MatchLabels,
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// resolveAPIVersion returns the apiVersion of kind among gitopsd's API
// groups in s: apiVersion itself when set and known there, else the only
// one that has the kind.
func resolveAPIVersion(s *runtime.Scheme, apiVersion, kind string) (string, error) {
	if apiVersion != "" {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil || gv.Group == "" {
			return "", fmt.Errorf("apiVersion '%s' is not group/version", apiVersion)
		}
		if !strings.HasSuffix(gv.Group, gitopsGroupSuffix) || !s.Recognizes(gv.WithKind(kind)) {
			return "", fmt.Errorf("%s of apiVersion '%s' is not a kind of gitopsd", kind, apiVersion)
		}
		return apiVersion, nil
	}
	var found []string
	for gvk := range s.AllKnownTypes() {
		if gvk.Kind == kind && strings.HasSuffix(gvk.Group, gitopsGroupSuffix) {
			found = append(found, gvk.GroupVersion().String())
		}
	}
	slices.Sort(found)
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s is not a kind gitopsd serves", kind)
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%s is served as %s: set apiVersion", kind, strings.Join(found, ", "))
	}
}
