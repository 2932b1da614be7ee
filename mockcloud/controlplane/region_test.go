package controlplane

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

func TestRegionFromAuthorization(t *testing.T) {
	tests := []struct {
		name, header, want string
		err                error
	}{
		{"botocore", authFor("eu-west-1"), "eu-west-1", nil},
		{"iot service", "AWS4-HMAC-SHA256 Credential=AKID/20261128/ap-northeast-1/iot/aws4_request, SignedHeaders=host, Signature=00", "ap-northeast-1", nil},
		{"no spaces after commas", "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/iot/aws4_request,SignedHeaders=host,Signature=00", "us-east-1", nil},
		{"credential not first", "AWS4-HMAC-SHA256 SignedHeaders=host, Credential=AKID/20261128/us-gov-east-1/iot/aws4_request", "us-gov-east-1", nil},
		{"empty", "", "", errNoAuthorization},
		{"blank", "   ", "", errNoAuthorization},
		{"other scheme", "Bearer abc", "", errMalformedAuthorization},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 Credential=AKID/20261128/iot/aws4_request", "", errMalformedAuthorization},
		{"no credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", "", errMalformedAuthorization},
		{"short scope", "AWS4-HMAC-SHA256 Credential=AKID/20261128/eu-west-1/aws4_request", "", errMalformedAuthorization},
		{"wrong terminator", "AWS4-HMAC-SHA256 Credential=AKID/20261128/eu-west-1/iot/aws5_request", "", errMalformedAuthorization},
		{"bad date", "AWS4-HMAC-SHA256 Credential=AKID/2026-11-28/eu-west-1/iot/aws4_request", "", errMalformedAuthorization},
		{"upper-case region", "AWS4-HMAC-SHA256 Credential=AKID/20261128/EU-WEST-1/iot/aws4_request", "", errMalformedAuthorization},
		{"empty region", "AWS4-HMAC-SHA256 Credential=AKID/20261128//iot/aws4_request", "", errMalformedAuthorization},
		{"empty key", "AWS4-HMAC-SHA256 Credential=/20261128/eu-west-1/iot/aws4_request", "", errMalformedAuthorization},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := regionFromAuthorization(tc.header)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestRegionSelection(t *testing.T) {
	f := newFixture(t)
	// us-only exists only in us-east-1; gw-001 only in eu-west-1 (the default).
	f.do(t, http.MethodGet, "/things/us-only", usEast1, "").wantOK(t)
	f.do(t, http.MethodGet, "/things/us-only", euWest1, "").wantError(t, 404, codeNotFound)
	f.do(t, http.MethodGet, "/things/us-only", "", "").wantError(t, 404, codeNotFound)
	f.do(t, http.MethodGet, "/things/gw-001", "", "").wantOK(t)
	if arn := f.do(t, http.MethodGet, "/things/us-only", usEast1, "").body["thingArn"]; arn != "arn:aws:iot:us-east-1:123456789012:thing/us-only" {
		t.Fatalf("thingArn %v", arn)
	}

	a := f.do(t, http.MethodGet, "/things", "ap-south-1", "")
	a.wantError(t, 403, codeInvalidSignature)
	if !strings.Contains(a.body["message"].(string), "ap-south-1") {
		t.Fatalf("message does not name the region: %s", a.raw)
	}

	req := httptest.NewRequest(http.MethodGet, "/things", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Header().Get("x-amzn-ErrorType") != codeIncompleteSignature {
		t.Fatalf("malformed credential: %d %s", rec.Code, rec.Body)
	}

	// A presigned URL carries the scope in the query.
	a = f.do(t, http.MethodGet, "/things/us-only?X-Amz-Credential=AKID%2F20261128%2Fus-east-1%2Fiot%2Faws4_request", "", "")
	a.wantOK(t)
}

func TestErrorShapes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, target string
		status               int
		code                 string
	}{
		{"unknown path", http.MethodGet, "/nothing/here", 404, codeUnknownOperation},
		{"root", http.MethodGet, "/", 404, codeUnknownOperation},
		{"too deep", http.MethodGet, "/things/a/b/c", 404, codeUnknownOperation},
		{"wrong method", http.MethodPatch, "/things/gw-001", 405, codeMethodNotAllowed},
		{"not found", http.MethodGet, "/policies/none", 404, codeNotFound},
		{"bad maxResults", http.MethodGet, "/things?maxResults=0", 400, codeInvalidRequest},
		{"too large maxResults", http.MethodGet, "/things?maxResults=251", 400, codeInvalidRequest},
		{"bad pageSize", http.MethodGet, "/certificates?pageSize=x", 400, codeInvalidRequest},
		{"bad nextToken", http.MethodGet, "/things?nextToken=bogus", 400, codeInvalidRequest},
		{"bad marker", http.MethodGet, "/policies?marker=" + encodePageToken("x")[:3], 400, codeInvalidRequest},
		{"unknown mock call", http.MethodGet, "/_mockcloud/nope", 404, codeUnknownOperation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.do(t, tc.method, tc.target, euWest1, "")
			a.wantError(t, tc.status, tc.code)
			if a.header.Get("x-amzn-RequestId") == "" {
				t.Fatal("no x-amzn-RequestId")
			}
		})
	}
	if allow := f.do(t, http.MethodPost, "/certificates/"+strings.Repeat("a", 64), euWest1, "").header.Get("Allow"); allow != "DELETE, GET, PUT" {
		t.Fatalf("Allow %q", allow)
	}
}

func TestRegionUnavailable(t *testing.T) {
	eu, us := openStore(t, euWest1), openStore(t, usEast1)
	var down bool
	h, err := New(Options{
		Regions: []Region{{Name: euWest1}, {Name: usEast1}},
		RegistryOf: func(region string) *registry.Store {
			if region == usEast1 {
				return us
			}
			if down {
				return nil
			}
			return eu
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h}
	f.do(t, http.MethodGet, "/things", euWest1, "").wantOK(t)
	down = true
	f.do(t, http.MethodGet, "/things", euWest1, "").wantError(t, 503, codeUnavailable)
	if err := us.Close(); err != nil {
		t.Fatal(err)
	}
	f.do(t, http.MethodGet, "/things", usEast1, "").wantError(t, 503, codeUnavailable)
}

func TestNewOptions(t *testing.T) {
	s := openStore(t, euWest1)
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"minimal", Options{Regions: []Region{{Name: euWest1, Registry: s}}}, true},
		{"no regions", Options{}, false},
		{"unnamed", Options{Regions: []Region{{Registry: s}}}, false},
		{"bad name", Options{Regions: []Region{{Name: "EU West", Registry: s}}}, false},
		{"no registry", Options{Regions: []Region{{Name: euWest1}}}, false},
		{"duplicate", Options{Regions: []Region{{Name: euWest1, Registry: s}, {Name: euWest1, Registry: s}}}, false},
		{"unknown default", Options{Regions: []Region{{Name: euWest1, Registry: s}}, DefaultRegion: usEast1}, false},
		{"registry lookup instead", Options{Regions: []Region{{Name: euWest1}}, RegistryOf: func(string) *registry.Store { return s }}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(tc.opts)
			if tc.ok != (err == nil) {
				t.Fatalf("New: %v", err)
			}
			if err != nil && !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("error %v is not ErrInvalidOptions", err)
			}
			if err == nil && h.opts.DefaultRegion != euWest1 {
				t.Fatalf("default region %q", h.opts.DefaultRegion)
			}
		})
	}
}
