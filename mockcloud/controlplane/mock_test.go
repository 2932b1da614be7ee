package controlplane

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/route53"
)

func TestMockCalls(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/_mockcloud/health", "", "")
	a.wantOK(t)
	if a.body["status"] != "ok" || !jsonEqual(a.body["regions"], []any{euWest1, usEast1}) || a.body["defaultRegion"] != euWest1 {
		t.Fatalf("health %s", a.raw)
	}

	tests := []struct {
		name, method, path, body string
		want                     map[string]any
		call                     string // what the hook saw; "" for none
	}{
		{"record unhealthy", http.MethodPost, "/_mockcloud/dns/records/us-east-1/health", `{"healthy":false}`,
			map[string]any{"setId": "us-east-1", "healthy": false}, "health us-east-1 false"},
		{"record healthy", http.MethodPost, "/_mockcloud/dns/records/eu%2Fwest/health", `{"healthy":true}`,
			map[string]any{"setId": "eu/west", "healthy": true}, "health eu/west true"},
		{"region down", http.MethodPost, "/_mockcloud/regions/us-east-1/down", `{"down":true}`,
			map[string]any{"region": "us-east-1", "down": true}, "down us-east-1 true"},
		{"region up", http.MethodPost, "/_mockcloud/regions/us-east-1/down", ` {"down":false} `,
			map[string]any{"region": "us-east-1", "down": false}, "down us-east-1 false"},
		{"faults", http.MethodPost, "/_mockcloud/regions/us-east-1/faults", `{"loseReply":{"times":1}}`,
			map[string]any{"region": "us-east-1", "faults": map[string]any{"loseReply": map[string]any{"times": float64(1)}}}, `faults us-east-1 {"loseReply":{"times":1}}`},
		{"advance", http.MethodPost, "/_mockcloud/clock/advance", `{"seconds":3600.5}`,
			map[string]any{"now": "2026-11-28T13:00:00.5Z", "epoch": float64(time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC).Unix()) + 0.5}, "advance 1h0m0.5s"},
		{"clock", http.MethodGet, "/_mockcloud/clock", "",
			map[string]any{"now": "2026-11-28T12:00:00Z", "epoch": float64(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).Unix())}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.hookLog.list())
			a := f.do(t, tc.method, tc.path, "", tc.body)
			a.wantOK(t)
			if !jsonEqual(a.body, tc.want) {
				t.Fatalf("answer %s, want %v", a.raw, tc.want)
			}
			calls := f.hookLog.list()[before:]
			if tc.call == "" && len(calls) != 0 || tc.call != "" && !slices.Equal(calls, []string{tc.call}) {
				t.Fatalf("hook calls %v, want %q", calls, tc.call)
			}
		})
	}
}

func TestMockCallErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"GET on a POST call", http.MethodGet, "/_mockcloud/clock/advance", "", 405, codeMethodNotAllowed},
		{"POST health", http.MethodPost, "/_mockcloud/health", "", 405, codeMethodNotAllowed},
		{"no body", http.MethodPost, "/_mockcloud/regions/us-east-1/down", "", 400, codeInvalidRequest},
		{"missing field", http.MethodPost, "/_mockcloud/regions/us-east-1/down", `{}`, 400, codeInvalidRequest},
		{"unknown field", http.MethodPost, "/_mockcloud/regions/us-east-1/down", `{"down":true,"up":false}`, 400, codeInvalidRequest},
		{"wrong type", http.MethodPost, "/_mockcloud/dns/records/a/health", `{"healthy":"yes"}`, 400, codeInvalidRequest},
		{"trailing data", http.MethodPost, "/_mockcloud/dns/records/a/health", `{"healthy":true}{}`, 400, codeInvalidRequest},
		{"negative seconds", http.MethodPost, "/_mockcloud/clock/advance", `{"seconds":-1}`, 400, codeInvalidRequest},
		{"too many seconds", http.MethodPost, "/_mockcloud/clock/advance", `{"seconds":1e300}`, 400, codeInvalidRequest},
		{"unknown region", http.MethodPost, "/_mockcloud/regions/mars-1/down", `{"down":true}`, 404, codeNotFound},
		{"faults of an unknown region", http.MethodPost, "/_mockcloud/regions/mars-1/faults", `{}`, 404, codeNotFound},
		{"faults refused by the hook", http.MethodPost, "/_mockcloud/regions/us-east-1/faults", `{"bogus":1}`, 400, codeInvalidRequest},
		{"huge body", http.MethodPost, "/_mockcloud/dns/records/a/health", `{"healthy":true,"x":"` + strings.Repeat("x", maxMockBody) + `"}`, 400, codeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.do(t, tc.method, tc.path, "", tc.body).wantError(t, tc.status, tc.code)
		})
	}
	if calls := f.hookLog.list(); len(calls) != 0 {
		t.Fatalf("a refused call reached a hook: %v", calls)
	}
}

func TestMockHookErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("set health of %q: %w", "x", route53.ErrUnknownSetIdentifier), 404, codeNotFound},
		{fmt.Errorf("thing: %w", ErrNotFound), 404, codeNotFound},
		{fmt.Errorf("nope: %w", ErrInvalidArgument), 400, codeInvalidRequest},
		{fmt.Errorf("disk on fire"), 500, codeInternal},
	}
	for _, tc := range tests {
		f.hookLog.err = tc.err
		f.do(t, http.MethodPost, "/_mockcloud/dns/records/x/health", "", `{"healthy":true}`).wantError(t, tc.status, tc.code)
	}
}

func TestMockHooksMissing(t *testing.T) {
	h, err := New(Options{Regions: []Region{{Name: euWest1, Registry: openStore(t, euWest1)}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h}
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/_mockcloud/dns/records/x/health", `{"healthy":true}`},
		{http.MethodPost, "/_mockcloud/regions/eu-west-1/down", `{"down":true}`},
		{http.MethodPost, "/_mockcloud/regions/eu-west-1/faults", `{}`},
		{http.MethodPost, "/_mockcloud/clock/advance", `{"seconds":1}`},
		{http.MethodGet, "/_mockcloud/clock", ""},
	} {
		f.do(t, c.method, c.path, "", c.body).wantError(t, 501, codeNotImplemented)
	}
	f.do(t, http.MethodGet, "/_mockcloud/health", "", "").wantOK(t)
}
