package controlplane

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAuthorizationRegion parses arbitrary Authorization headers: never a panic;
// a region read must be a region name that appears in the header, and a header
// built around that region must give it back.
func FuzzAuthorizationRegion(f *testing.F) {
	f.Add(authFor("eu-west-1"))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/iot/aws4_request,SignedHeaders=host,Signature=00")
	f.Add("AWS4-HMAC-SHA256 SignedHeaders=host, Credential=AKID/20261128/ap-northeast-1/iot/aws4_request")
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261128//iot/aws4_request")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f")
	f.Add("AWS4-ECDSA-P256-SHA256 Credential=AKID/20261128/iot/aws4_request")
	f.Add("Bearer x")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		region, err := regionFromAuthorization(header)
		if err != nil {
			if region != "" {
				t.Fatalf("region %q with error %v", region, err)
			}
			return
		}
		if !validRegionName(region) || !strings.Contains(header, "/"+region+"/") {
			t.Fatalf("region %q read from %q", region, header)
		}
		if again, err := regionFromAuthorization(authFor(region)); err != nil || again != region {
			t.Fatalf("round trip of %q: %q, %v", region, again, err)
		}
	})
}

// FuzzPageToken decodes arbitrary nextToken/marker values: a token that decodes
// names a key that encodes back to a token with the same key.
func FuzzPageToken(f *testing.F) {
	f.Add(encodePageToken("gw-001"))
	f.Add(encodePageToken(timeKey(fixedTime, strings.Repeat("a", 64))))
	f.Add(encodePageToken(""))
	f.Add("bWMxOg")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, tok string) {
		key, err := decodePageToken(tok)
		if err != nil {
			return
		}
		again, err := decodePageToken(encodePageToken(key))
		if err != nil || again != key {
			t.Fatalf("token %q: key %q re-decodes as %q, %v", tok, key, again, err)
		}
	})
}

// FuzzHandler sends arbitrary requests through the whole handler: never a panic,
// always a JSON object, and every failure in the restJson1 error shape.
func FuzzHandler(f *testing.F) {
	fx := newFixture(f)
	f.Add(uint8(0), "/things?maxResults=2&nextToken=", euWest1, "")
	f.Add(uint8(0), "/things/gw-001/principals", "", "")
	f.Add(uint8(1), "/certificates/"+fx.certs["old"]+"?newStatus=INACTIVE", usEast1, "")
	f.Add(uint8(2), "/attached-policies/arn%3Aaws%3Aiot%3Aeu-west-1%3A123456789012%3Acert%2F"+fx.certs["claim"], euWest1, "")
	f.Add(uint8(2), "/_mockcloud/clock/advance", "", `{"seconds":1.5}`)
	f.Add(uint8(2), "/_mockcloud/dns/records/x%2Fy/health", "", `{"healthy":true}`)
	f.Add(uint8(0), "/endpoint?endpointType=iot:Data-ATS", "bad region", "")
	f.Add(uint8(3), "/%zz", "", "")
	f.Add(uint8(2), "/policies/p1", euWest1, `{"policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[]}"}`)
	f.Add(uint8(1), "/target-policies/device-policy", euWest1, `{"target":"arn:aws:iot:eu-west-1:123456789012:cert/`+fx.certs["old"]+`"}`)
	f.Add(uint8(2), "/certificate/register-no-ca", euWest1, `{"certificatePem":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n","status":"ACTIVE"}`)
	f.Add(uint8(2), "/things/gw-new", euWest1, `{"attributePayload":{"attributes":{"a":"b"}}}`)
	f.Add(uint8(1), "/thing-groups/addThingToThingGroup", euWest1, `{"thingGroupArn":"arn:aws:iot:eu-west-1:123456789012:thinggroup/gateways","thingName":"gw-003"}`)
	f.Add(uint8(3), "/things/gw-003?expectedVersion=x", euWest1, "")
	f.Add(uint8(3), "/certificates/"+fx.certs["old"]+"?forceDelete=true", euWest1, "")
	f.Add(uint8(2), "/provisioning-templates", euWest1, `{"templateName":"t1","templateBody":"{\"Resources\":{}}","provisioningRoleArn":"arn:aws:iam::123456789012:role/r"}`)
	f.Add(uint8(3), "/provisioning-templates/fleet", euWest1, "")
	methods := []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete}
	f.Fuzz(func(t *testing.T, m uint8, target, region, body string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := &http.Request{Method: methods[int(m)%len(methods)], URL: u, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(body)), Host: "127.0.0.1"}
		if region != "" {
			req.Header.Set("Authorization", authFor(region))
		}
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: body not a JSON object: %q", req.Method, target, rec.Body)
		}
		code := rec.Header().Get("x-amzn-ErrorType")
		switch {
		case rec.Code == http.StatusOK && code != "":
			t.Fatalf("200 with error type %q", code)
		case rec.Code != http.StatusOK && (code == "" || out["__type"] != code):
			t.Fatalf("%d without the error shape: %q %q", rec.Code, code, rec.Body)
		}
	})
}
