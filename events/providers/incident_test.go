package providers_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/providers"
)

func alias(kind, ns, name string) string {
	sum := sha256.Sum256([]byte(kind + "/" + ns + "/" + name))
	return hex.EncodeToString(sum[:])
}

func TestIncidentProviders(t *testing.T) {
	t.Parallel()
	pd := func(base string) providers.Config { return providers.Config{Address: base, Channel: secret} }
	og := func(base string) providers.Config {
		return providers.Config{Address: base + "/v2/alerts", Token: secret}
	}
	runCases(t, []providerCase{
		{
			name: "alertmanager firing alert",
			typ:  providers.TypeAlertmanager,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/api/v2/alerts", Token: secret}
			},
			want: want{method: http.MethodPost, path: "/api/v2/alerts",
				header: map[string]string{"Authorization": "Bearer " + secret},
				json: `[{
				"labels": {"alertname": "KustomizationHealthCheckFailed", "severity": "error", "reason": "HealthCheckFailed",
					"kind": "Kustomization", "name": "podinfo", "namespace": "apps", "reportingcontroller": "gitopsd"},
				"annotations": {"message": "health check failed: deployment/podinfo not ready", "summary": "prod",
					"revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
				"startsAt": "2024-05-01T12:00:00Z"
			}]`},
		},
		{
			name: "alertmanager resolution ends the failure's alert",
			typ:  providers.TypeAlertmanager,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/api/v2/alerts", Username: "am", Password: password}
			},
			n: resolved,
			want: want{method: http.MethodPost, path: "/api/v2/alerts",
				header: map[string]string{"Authorization": basic("am", password)},
				json: `[{
				"labels": {"alertname": "KustomizationHealthCheckFailed", "severity": "error", "reason": "HealthCheckFailed",
					"kind": "Kustomization", "name": "podinfo", "namespace": "apps", "reportingcontroller": "gitopsd"},
				"annotations": {"message": "resolved after 3 failures in 15m: applied revision main@sha1:0123456789abcdef0123456789abcdef01234567",
					"summary": "prod", "revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
				"startsAt": "2024-05-01T12:00:00Z",
				"endsAt": "2024-05-01T12:15:00Z"
			}]`},
		},
		{
			name: "grafana annotation",
			typ:  providers.TypeGrafana,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/api/annotations", Token: secret}
			},
			want: want{method: http.MethodPost, path: "/api/annotations",
				header: map[string]string{"Authorization": "Bearer " + secret},
				json: `{
				"time": 1714564800000,
				"tags": ["gitopskit", "gitopsd", "kind: Kustomization", "name: podinfo", "namespace: apps",
					"summary: prod", "revision: main@sha1|0123456789abcdef0123456789abcdef01234567"],
				"text": "kustomization/podinfo.apps: health check failed: deployment/podinfo not ready"
			}`},
		},
		{
			name:  "pagerduty trigger",
			typ:   providers.TypePagerDuty,
			cfg:   pd,
			reply: &eventstest.Reply{Status: http.StatusAccepted, Body: `{"status":"success","message":"Event processed","dedup_key":"0b5e7c1a-uid"}`},
			want: want{method: http.MethodPost, path: "/v2/enqueue", json: `{
				"routing_key": "` + secret + `",
				"event_action": "trigger",
				"dedup_key": "0b5e7c1a-uid",
				"payload": {
					"summary": "health check failed: kustomization/podinfo",
					"source": "gitopsd",
					"severity": "error",
					"timestamp": "2024-05-01T12:00:00Z",
					"component": "podinfo",
					"group": "Kustomization",
					"class": "HealthCheckFailed",
					"custom_details": {
						"message": "health check failed: deployment/podinfo not ready",
						"metadata": {"summary": "prod", "revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"}
					}
				}
			}`},
		},
		{
			name: "pagerduty resolve",
			typ:  providers.TypePagerDuty,
			cfg:  pd,
			n:    resolved,
			want: want{method: http.MethodPost, path: "/v2/enqueue", json: `{
				"routing_key": "` + secret + `", "event_action": "resolve", "dedup_key": "0b5e7c1a-uid"
			}`},
		},
		{
			name: "pagerduty change event for info",
			typ:  providers.TypePagerDuty,
			cfg:  pd,
			n:    info,
			want: want{method: http.MethodPost, path: "/v2/change/enqueue", json: `{
				"routing_key": "` + secret + `",
				"payload": {
					"summary": "reconciliation succeeded: kustomization/podinfo",
					"source": "gitopsd",
					"timestamp": "2024-05-01T12:00:00Z",
					"custom_details": {
						"message": "applied revision main@sha1:0123456789abcdef0123456789abcdef01234567",
						"metadata": {"summary": "prod", "revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"}
					}
				}
			}`},
		},
		{
			name:  "opsgenie alert",
			typ:   providers.TypeOpsgenie,
			cfg:   og,
			reply: &eventstest.Reply{Status: http.StatusAccepted, Body: `{"result":"Request will be processed","requestId":"x"}`},
			want: want{method: http.MethodPost, path: "/v2/alerts",
				header: map[string]string{"Authorization": "GenieKey " + secret},
				json: `{
				"message": "Kustomization/podinfo.apps: health check failed",
				"alias": "` + alias("Kustomization", "apps", "podinfo") + `",
				"description": "health check failed: deployment/podinfo not ready",
				"details": {"severity": "error", "reason": "HealthCheckFailed", "summary": "prod",
					"revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
				"source": "gitopsd",
				"tags": ["gitopskit", "kustomization", "apps"]
			}`},
		},
		{
			name: "opsgenie resolution closes the alert",
			typ:  providers.TypeOpsgenie,
			cfg:  og,
			n:    resolved,
			want: want{method: http.MethodPost, path: "/v2/alerts/" + alias("Kustomization", "apps", "podinfo") + "/close",
				query:  "identifierType=alias",
				header: map[string]string{"Authorization": "GenieKey " + secret},
				json:   `{"source": "gitopsd", "note": "resolved after 3 failures in 15m: applied revision main@sha1:0123456789abcdef0123456789abcdef01234567"}`},
		},
		{
			name: "datadog event",
			typ:  providers.TypeDatadog,
			cfg:  func(base string) providers.Config { return providers.Config{Address: base, Token: secret} },
			want: want{method: http.MethodPost, path: "/api/v1/events",
				header: map[string]string{"DD-API-KEY": secret},
				json: `{
				"title": "Kustomization apps/podinfo: health check failed",
				"text": "health check failed: deployment/podinfo not ready",
				"tags": ["kube_kind:kustomization", "kube_name:podinfo", "kube_namespace:apps", "reason:healthcheckfailed",
					"reporting_controller:gitopsd", "summary:prod", "revision:main@sha1:0123456789abcdef0123456789abcdef01234567"],
				"alert_type": "error",
				"date_happened": 1714564800,
				"source_type_name": "gitopskit",
				"aggregation_key": "kustomization/apps/podinfo"
			}`},
		},
		{
			name: "sentry envelope",
			typ:  providers.TypeSentry,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: strings.Replace(base, "://", "://"+secret+"@", 1) + "/42", Channel: "production"}
			},
			want: want{method: http.MethodPost, path: "/api/42/envelope/",
				header: map[string]string{
					"X-Sentry-Auth": "Sentry sentry_version=7, sentry_client=gitopskit-events/1, sentry_key=" + secret,
					"Content-Type":  "application/x-sentry-envelope",
				},
				raw: func(t *testing.T, body []byte) { checkSentryEnvelope(t, body) }},
		},
	})
}

func checkSentryEnvelope(t *testing.T, body []byte) {
	t.Helper()
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("envelope has %d lines, want 3:\n%s", len(lines), body)
	}
	var head struct {
		EventID string `json:"event_id"`
	}
	var item struct {
		Type   string `json:"type"`
		Length int    `json:"length"`
	}
	if err := json.Unmarshal(lines[0], &head); err != nil || len(head.EventID) != 32 {
		t.Errorf("envelope header %s", lines[0])
	}
	if err := json.Unmarshal(lines[1], &item); err != nil || item.Type != "event" || item.Length != len(lines[2]) {
		t.Errorf("item header %s (event is %d bytes)", lines[1], len(lines[2]))
	}
	var ev map[string]any
	if err := json.Unmarshal(lines[2], &ev); err != nil {
		t.Fatal(err)
	}
	if ev["event_id"] != head.EventID {
		t.Errorf("event_id %v, envelope says %s", ev["event_id"], head.EventID)
	}
	delete(ev, "event_id")
	got, _ := json.Marshal(ev)
	checkJSON(t, got, `{
		"timestamp": "2024-05-01T12:00:00Z",
		"platform": "other",
		"level": "error",
		"logger": "gitopskit",
		"server_name": "gitopsd",
		"environment": "production",
		"transaction": "Kustomization: apps/podinfo",
		"message": {"formatted": "health check failed: deployment/podinfo not ready"},
		"tags": {"kind": "Kustomization", "name": "podinfo", "namespace": "apps", "reason": "HealthCheckFailed", "reporting_controller": "gitopsd"},
		"extra": {"summary": "prod", "revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
		"fingerprint": ["Kustomization", "apps", "podinfo", "HealthCheckFailed"]
	}`)
}
