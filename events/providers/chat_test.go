package providers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/providers"
)

const eventJSON = `{
	"involvedObject": {"kind": "Kustomization", "namespace": "apps", "name": "podinfo", "uid": "0b5e7c1a-uid", "apiVersion": "kustomize.gitopskit.dev/v1"},
	"severity": "error",
	"timestamp": "2024-05-01T12:00:00Z",
	"message": "health check failed: deployment/podinfo not ready",
	"reason": "HealthCheckFailed",
	"metadata": {"revision": "main@sha1:0123456789abcdef0123456789abcdef01234567", "summary": "prod"},
	"reportingController": "gitopsd",
	"reportingInstance": "gitopsd-0"
}`

func TestChatProviders(t *testing.T) {
	t.Parallel()
	runCases(t, []providerCase{
		{
			name: "generic posts the event JSON as Flux does",
			typ:  providers.TypeGeneric,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + hookPath, Headers: map[string]string{"X-Team": "platform"}}
			},
			want: want{method: http.MethodPost, path: hookPath,
				header: map[string]string{"gotk-component": "gitopsd", "X-Team": "platform"},
				json:   eventJSON},
		},
		{
			name: "generic-hmac signs the body",
			typ:  providers.TypeGenericHMAC,
			cfg:  func(base string) providers.Config { return providers.Config{Address: base + "/events", Token: secret} },
			want: want{method: http.MethodPost, path: "/events",
				header: map[string]string{"gotk-component": "gitopsd"},
				raw: func(t *testing.T, body []byte) {
					// The signature is checked where the request is: see
					// TestGenericHMACSignature; here, the body is the event.
					checkJSON(t, body, eventJSON)
				}},
		},
		{
			name: "slack incoming webhook",
			typ:  providers.TypeSlack,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + hookPath, Channel: "#alerts"}
			},
			want: want{method: http.MethodPost, path: hookPath, json: `{
				"channel": "#alerts",
				"username": "gitopsd",
				"attachments": [{
					"fallback": "kustomization/podinfo.apps: health check failed: deployment/podinfo not ready",
					"color": "danger",
					"author_name": "kustomization/podinfo.apps",
					"text": "health check failed: deployment/podinfo not ready",
					"mrkdwn_in": ["text"],
					"fields": [
						{"title": "summary", "value": "prod", "short": false},
						{"title": "revision", "value": "main@sha1:0123456789abcdef0123456789abcdef01234567", "short": false}
					]
				}]
			}`},
		},
		{
			name: "slack bot token uses chat.postMessage",
			typ:  providers.TypeSlack,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/api/chat.postMessage", Token: secret, Channel: "C0123", Username: "flux"}
			},
			n:     info,
			reply: &eventstest.Reply{Status: 200, Body: `{"ok":true,"ts":"1.2"}`},
			want: want{method: http.MethodPost, path: "/api/chat.postMessage",
				header: map[string]string{"Authorization": "Bearer " + secret},
				json: `{
				"channel": "C0123",
				"username": "flux",
				"attachments": [{
					"fallback": "kustomization/podinfo.apps: applied revision main@sha1:0123456789abcdef0123456789abcdef01234567",
					"color": "good",
					"author_name": "kustomization/podinfo.apps",
					"text": "applied revision main@sha1:0123456789abcdef0123456789abcdef01234567",
					"mrkdwn_in": ["text"],
					"fields": [
						{"title": "summary", "value": "prod", "short": false},
						{"title": "revision", "value": "main@sha1:0123456789abcdef0123456789abcdef01234567", "short": false}
					]
				}]
			}`},
		},
		{
			name: "mattermost incoming webhook",
			typ:  providers.TypeMattermost,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/hooks/xyz", Channel: "town-square", Username: "gitops"}
			},
			want: want{method: http.MethodPost, path: "/hooks/xyz", json: `{
				"channel": "town-square",
				"username": "gitops",
				"attachments": [{
					"fallback": "kustomization/podinfo.apps: health check failed: deployment/podinfo not ready",
					"color": "#a30200",
					"author_name": "kustomization/podinfo.apps",
					"text": "health check failed: deployment/podinfo not ready",
					"mrkdwn_in": ["text"],
					"fields": [
						{"title": "summary", "value": "prod", "short": false},
						{"title": "revision", "value": "main@sha1:0123456789abcdef0123456789abcdef01234567", "short": false}
					]
				}]
			}`},
		},
		{
			name: "rocket.chat incoming webhook",
			typ:  providers.TypeRocket,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/hooks/abc/def", Channel: "#ops", Username: "gitops"}
			},
			n: resolved,
			want: want{method: http.MethodPost, path: "/hooks/abc/def", json: `{
				"channel": "#ops",
				"alias": "gitops",
				"attachments": [{
					"fallback": "kustomization/podinfo.apps: resolved after 3 failures in 15m: applied revision main@sha1:0123456789abcdef0123456789abcdef01234567",
					"color": "#0076D7",
					"author_name": "kustomization/podinfo.apps",
					"text": "resolved after 3 failures in 15m: applied revision main@sha1:0123456789abcdef0123456789abcdef01234567",
					"fields": [
						{"title": "summary", "value": "prod", "short": false},
						{"title": "revision", "value": "main@sha1:0123456789abcdef0123456789abcdef01234567", "short": false}
					]
				}]
			}`},
		},
		{
			name: "msteams workflow adaptive card",
			typ:  providers.TypeMSTeams,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/workflows/abc/triggers/manual/paths/invoke?sig=" + secret}
			},
			reply: &eventstest.Reply{Status: http.StatusAccepted},
			want: want{method: http.MethodPost, path: "/workflows/abc/triggers/manual/paths/invoke", query: "sig=" + secret, json: `{
				"type": "message",
				"attachments": [{
					"contentType": "application/vnd.microsoft.card.adaptive",
					"contentUrl": null,
					"content": {
						"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
						"type": "AdaptiveCard",
						"version": "1.4",
						"msteams": {"width": "Full"},
						"body": [
							{"type": "TextBlock", "text": "kustomization/podinfo.apps", "size": "Large", "weight": "Bolder", "wrap": true},
							{"type": "TextBlock", "text": "health check failed: deployment/podinfo not ready", "color": "Attention", "wrap": true},
							{"type": "FactSet", "facts": [
								{"title": "summary", "value": "prod"},
								{"title": "revision", "value": "main@sha1:0123456789abcdef0123456789abcdef01234567"}
							]}
						]
					}
				}]
			}`},
		},
		{
			name: "discord webhook embed",
			typ:  providers.TypeDiscord,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/api/webhooks/123/" + secret, Username: "gitops"}
			},
			reply: &eventstest.Reply{Status: http.StatusNoContent},
			want: want{method: http.MethodPost, path: "/api/webhooks/123/" + secret, json: `{
				"username": "gitops",
				"embeds": [{
					"title": "kustomization/podinfo.apps",
					"description": "health check failed: deployment/podinfo not ready",
					"color": 15158332,
					"timestamp": "2024-05-01T12:00:00Z",
					"fields": [
						{"name": "summary", "value": "prod", "inline": false},
						{"name": "revision", "value": "main@sha1:0123456789abcdef0123456789abcdef01234567", "inline": false}
					]
				}]
			}`},
		},
		{
			name: "google chat cardsV2",
			typ:  providers.TypeGoogleChat,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/v1/spaces/AAA/messages?key=k&token=" + secret}
			},
			want: want{method: http.MethodPost, path: "/v1/spaces/AAA/messages", query: "key=k&token=" + secret, json: `{
				"cardsV2": [{
					"cardId": "gitopskit-event",
					"card": {
						"header": {"title": "kustomization/podinfo.apps", "subtitle": "gitopsd"},
						"sections": [
							{"widgets": [{"textParagraph": {"text": "<font color=\"#d93025\">health check failed: deployment/podinfo not ready</font>"}}]},
							{"widgets": [
								{"decoratedText": {"topLabel": "summary", "text": "prod", "wrapText": true}},
								{"decoratedText": {"topLabel": "revision", "text": "main@sha1:0123456789abcdef0123456789abcdef01234567", "wrapText": true}}
							]}
						]
					}
				}]
			}`},
		},
		{
			name: "webex message",
			typ:  providers.TypeWebex,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/v1/messages", Channel: "room-1", Token: secret}
			},
			want: want{method: http.MethodPost, path: "/v1/messages",
				header: map[string]string{"Authorization": "Bearer " + secret},
				json: `{
				"roomId": "room-1",
				"markdown": "❌ **kustomization/podinfo.apps**\nhealth check failed: deployment/podinfo not ready\n- **summary**: prod\n- **revision**: main@sha1:0123456789abcdef0123456789abcdef01234567\n"
			}`},
		},
		{
			name: "telegram sendMessage in a forum topic",
			typ:  providers.TypeTelegram,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base, Channel: "-100123:42", Token: secret}
			},
			want: want{method: http.MethodPost, path: "/bot" + secret + "/sendMessage", json: `{
				"chat_id": "-100123",
				"message_thread_id": 42,
				"parse_mode": "MarkdownV2",
				"text": "*🚨 kustomization/podinfo\\.apps*\nhealth check failed: deployment/podinfo not ready\n\\- *summary*: prod\n\\- *revision*: main@sha1:0123456789abcdef0123456789abcdef01234567\n"
			}`},
		},
		{
			name: "lark interactive card",
			typ:  providers.TypeLark,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base + "/open-apis/bot/v2/hook/" + secret}
			},
			reply: &eventstest.Reply{Status: 200, Body: `{"code":0,"msg":"success"}`},
			want: want{method: http.MethodPost, path: "/open-apis/bot/v2/hook/" + secret, json: `{
				"msg_type": "interactive",
				"card": {
					"config": {"wide_screen_mode": true},
					"header": {"title": {"tag": "plain_text", "content": "🚨 kustomization/podinfo.apps"}, "template": "red"},
					"elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "**health check failed: deployment/podinfo not ready**\n\nsummary: prod\nrevision: main@sha1:0123456789abcdef0123456789abcdef01234567\n"}}]
				}
			}`},
		},
		{
			name: "zulip stream message",
			typ:  providers.TypeZulip,
			cfg: func(base string) providers.Config {
				return providers.Config{Address: base, Channel: "ops/gitops", Username: "bot@example.org", Token: secret}
			},
			want: want{method: http.MethodPost, path: "/api/v1/messages",
				header: map[string]string{"Authorization": basic("bot@example.org", secret)},
				form: url.Values{
					"type":    {"stream"},
					"to":      {"ops"},
					"topic":   {"gitops"},
					"content": {"**kustomization/podinfo.apps**\nhealth check failed: deployment/podinfo not ready\n- **summary**: prod\n- **revision**: main@sha1:0123456789abcdef0123456789abcdef01234567\n"},
				}},
		},
	})
}

func TestGenericHMACSignature(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewProviderSink(t)
	p, err := providers.NewGenericHMAC(providers.Config{Address: sink.URL(), Token: secret})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Post(t.Context(), failure()); err != nil {
		t.Fatal(err)
	}
	r := sink.Requests()[0]
	sig := r.Header.Get("X-Signature")
	if want := providers.Sign([]byte(secret), r.Body); sig != want || !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("X-Signature %q, want %q", sig, want)
	}
	if _, err := providers.NewGenericHMAC(providers.Config{Address: sink.URL()}); err == nil {
		t.Error("generic-hmac without a key accepted")
	}
}

func TestMatrixTransactionIsStablePerNotification(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewProviderSink(t)
	p, err := providers.NewMatrix(providers.Config{Address: sink.URL(), Channel: "!room:example.org", Token: secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []func() *events.Notification{failure, failure, info} {
		if err := p.Post(t.Context(), n()); err != nil {
			t.Fatal(err)
		}
	}
	reqs := sink.Requests()
	const prefix = "/_matrix/client/v3/rooms/!room:example.org/send/m.room.message/"
	for _, r := range reqs {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.Path, prefix) || len(r.Path) != len(prefix)+32 {
			t.Errorf("request %s %s", r.Method, r.Path)
		}
		if !strings.HasPrefix(r.RawPath, "/_matrix/client/v3/rooms/%21room:example.org/") {
			t.Errorf("room not escaped: %s", r.RawPath)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+secret {
			t.Errorf("Authorization %q", got)
		}
	}
	if reqs[0].Path != reqs[1].Path {
		t.Error("a retried notification got a new transaction ID; Matrix would post it twice")
	}
	if reqs[0].Path == reqs[2].Path {
		t.Error("two notifications share a transaction ID; Matrix would drop the second")
	}
	checkJSON(t, reqs[0].Body, `{"msgtype": "m.text", "body": "🚨 kustomization/podinfo.apps\nhealth check failed: deployment/podinfo not ready\n- summary: prod\n- revision: main@sha1:0123456789abcdef0123456789abcdef01234567\n"}`)
}

func TestSlackBotAnswerNotOK(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewProviderSink(t)
	sink.Reply(200, `{"ok":false,"error":"channel_not_found"}`)
	p, err := providers.NewSlack(providers.Config{Address: sink.URL(), Token: secret, Channel: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Post(t.Context(), failure())
	if err == nil || !strings.Contains(err.Error(), "channel_not_found") {
		t.Fatalf("err = %v, want channel_not_found", err)
	}
	mustPermanent(t, err)
	// An incoming webhook given a token anyway answers a plain "ok".
	sink.Reply(200, "ok")
	if err := p.Post(t.Context(), failure()); err != nil {
		t.Errorf("plain ok: %v", err)
	}
	if _, err := providers.NewSlack(providers.Config{Token: secret}); err == nil {
		t.Error("a bot token without a channel was accepted")
	}
}

func TestLarkAnswerCode(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewProviderSink(t)
	sink.Reply(200, `{"code":19001,"msg":"param invalid: incoming webhook access token invalid"}`)
	p, _ := providers.NewLark(providers.Config{Address: sink.URL() + "/hook/x"})
	err := p.Post(t.Context(), failure())
	if err == nil || !strings.Contains(err.Error(), "19001") {
		t.Fatalf("err = %v", err)
	}
	mustPermanent(t, err)
}
