package route53

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// apiBodies are the request bodies the API parses, by the fuzz input's
// first byte (mod 3): a fresh value to decode into and the path to post to.
var apiBodies = []struct {
	fresh func() any
	path  string
}{
	{func() any { return new(createHostedZoneRequest) }, "/2013-04-01/hostedzone"},
	{func() any { return new(changeRRSetsRequest) }, "/2013-04-01/hostedzone/" + nameZoneID("example.com.") + "/rrset/"},
	{func() any { return new(createHealthCheckRequest) }, "/2013-04-01/healthcheck"},
}

// FuzzAPIRequestXML feeds request bodies to the XML decoder and to the API.
// Properties: a body the decoder takes marshals and decodes back to the
// same value; one it refuses is refused as malformed; the API answers every
// body with a 2xx or 4xx carrying well-formed XML, never a 5xx or a panic.
func FuzzAPIRequestXML(f *testing.F) {
	f.Add(byte(0), []byte(createZoneBody("fuzz.example.org", "ref", "comment")))
	f.Add(byte(1), []byte(changeBody(rrChange("UPSERT", "f.example.com", "A", "60", geoExtra("eu", "<ContinentCode>EU</ContinentCode>"), "192.0.2.1"))))
	f.Add(byte(2), []byte(healthCheckBody("ref", "<IPAddress>192.0.2.1</IPAddress><Type>HTTP</Type>")))
	cfg := rigConfig(f)
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		// A fresh rig each time, so inputs do not pile up zones; no test
		// logger, as the fuzz target may not log through f.
		c := cfg
		c.Zones = cloneZones(cfg.Zones)
		srv, err := New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		api, err := NewAPI(srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := apiBodies[int(kind)%len(apiBodies)]
		v := b.fresh()
		if err := decodeXML(body, v); err != nil {
			if !errors.Is(err, errXMLSyntax) {
				t.Fatalf("decode error %v does not say malformed XML", err)
			}
		} else {
			out, err := xml.Marshal(v)
			if err != nil {
				t.Fatalf("marshal %#v: %v", v, err)
			}
			back := b.fresh()
			if err := decodeXML(out, back); err != nil {
				t.Fatalf("re-decode %s: %v", out, err)
			}
			if !reflect.DeepEqual(v, back) {
				t.Fatalf("round trip differs:\n%#v\n%#v\n%s", v, back, out)
			}
		}

		req := httptest.NewRequest(http.MethodPost, b.path, strings.NewReader(string(body)))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code < 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var anyXML struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &anyXML); err != nil || anyXML.XMLName.Space != apiNamespace {
			t.Fatalf("reply is not Route 53 XML (%v): %s", err, w.Body)
		}
	})
}
