package route53

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// apiRig is a rig DNS server with the Route 53 API in front of it on
// loopback.
type apiRig struct {
	srv *Server
	api *API
	url string
}

func newAPIRig(t *testing.T, edit func(*Config)) *apiRig {
	t.Helper()
	s := startRigServer(t, edit)
	api, err := NewAPI(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(APIPrefix, api)
	hs := httptest.NewServer(mux) // 127.0.0.1:0
	t.Cleanup(hs.Close)
	return &apiRig{srv: s, api: api, url: hs.URL}
}

// apiReply is one HTTP answer of the API.
type apiReply struct {
	status int
	header http.Header
	body   string
}

func (r *apiRig) do(t *testing.T, method, path, body string) apiReply {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/route53/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiReply{resp.StatusCode, resp.Header, string(b)}
}

// decode unmarshals the reply body into v, failing the test on a status
// other than want.
func (rp apiReply) decode(t *testing.T, want int, v any) {
	t.Helper()
	if rp.status != want {
		t.Fatalf("status %d, want %d: %s", rp.status, want, rp.body)
	}
	if ct := rp.header.Get("Content-Type"); ct != "text/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	if err := xml.Unmarshal([]byte(rp.body), v); err != nil {
		t.Fatalf("body is not the expected XML: %v\n%s", err, rp.body)
	}
}

// wantError checks the reply is Route 53's error document with this
// status, code and (when msg is not empty) message.
func (rp apiReply) wantError(t *testing.T, status int, code, msg string) {
	t.Helper()
	var e errorResponse
	rp.decode(t, status, &e)
	if e.Error.Code != code || e.Error.Type != "Sender" || e.RequestID == "" {
		t.Fatalf("error %+v request id %q, want code %s: %s", e.Error, e.RequestID, code, rp.body)
	}
	if msg != "" && e.Error.Message != msg {
		t.Fatalf("message\n%q\nwant\n%q", e.Error.Message, msg)
	}
	if rp.header.Get("x-amzn-RequestId") != e.RequestID {
		t.Errorf("x-amzn-RequestId %q, body %q", rp.header.Get("x-amzn-RequestId"), e.RequestID)
	}
}

// Bodies in the shape botocore sends.

func createZoneBody(name, ref, comment string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><CreateHostedZoneRequest xmlns="` + apiNamespace + `"><Name>` + name +
		`</Name><CallerReference>` + ref + `</CallerReference><HostedZoneConfig><Comment>` + comment +
		`</Comment></HostedZoneConfig></CreateHostedZoneRequest>`
}

func changeBody(changes ...string) string {
	return `<ChangeResourceRecordSetsRequest xmlns="` + apiNamespace + `"><ChangeBatch><Comment>c</Comment><Changes>` +
		strings.Join(changes, "") + `</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
}

// rrChange is one <Change> of a simple record set; extra goes inside the
// ResourceRecordSet (SetIdentifier, GeoLocation, HealthCheckId).
func rrChange(action, name, typ, ttl, extra string, values ...string) string {
	var rrs strings.Builder
	for _, v := range values {
		rrs.WriteString("<ResourceRecord><Value>" + v + "</Value></ResourceRecord>")
	}
	s := `<Change><Action>` + action + `</Action><ResourceRecordSet><Name>` + name + `</Name><Type>` + typ + `</Type>` + extra
	if ttl != "" {
		s += `<TTL>` + ttl + `</TTL>`
	}
	if len(values) > 0 {
		s += `<ResourceRecords>` + rrs.String() + `</ResourceRecords>`
	}
	return s + `</ResourceRecordSet></Change>`
}

func geoExtra(setID, geo string) string {
	return `<SetIdentifier>` + setID + `</SetIdentifier><GeoLocation>` + geo + `</GeoLocation>`
}

func healthCheckBody(ref, cfg string) string {
	return `<CreateHealthCheckRequest xmlns="` + apiNamespace + `"><CallerReference>` + ref +
		`</CallerReference><HealthCheckConfig>` + cfg + `</HealthCheckConfig></CreateHealthCheckRequest>`
}
