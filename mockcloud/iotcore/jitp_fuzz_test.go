package iotcore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/template"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
)

// subjectJITPTemplate needs every subject parameter and builds the thing name from
// two of them, so that fuzzed subjects reach both outcomes.
const subjectJITPTemplate = `{
  "Parameters": {
    "AWS::IoT::Certificate::CommonName": {"Type": "String"},
    "AWS::IoT::Certificate::SerialNumber": {"Type": "String"},
    "AWS::IoT::Certificate::Country": {"Type": "String"},
    "AWS::IoT::Certificate::Organization": {"Type": "String"},
    "AWS::IoT::Certificate::OrganizationalUnit": {"Type": "String"},
    "AWS::IoT::Certificate::StateName": {"Type": "String"},
    "AWS::IoT::Certificate::DistinguishedNameQualifier": {"Type": "String"},
    "AWS::IoT::Certificate::Id": {"Type": "String"}
  },
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
      "ThingName": {"Fn::Join": ["-", [{"Ref": "AWS::IoT::Certificate::CommonName"}, {"Ref": "AWS::IoT::Certificate::SerialNumber"}]]},
      "AttributePayload": {
        "country": {"Ref": "AWS::IoT::Certificate::Country"},
        "org": {"Ref": "AWS::IoT::Certificate::Organization"},
        "ou": {"Ref": "AWS::IoT::Certificate::OrganizationalUnit"},
        "st": {"Ref": "AWS::IoT::Certificate::StateName"},
        "dnq": {"Ref": "AWS::IoT::Certificate::DistinguishedNameQualifier"}},
      "ThingGroups": ["gateways"]}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "GatewayDevicePolicy"}}
  }
}`

var oidDNQualifier = asn1.ObjectIdentifier{2, 5, 4, 46}

// FuzzJITPSubject issues device certificates with fuzzed subjects and runs the
// first-connection registration with two JITP templates. It never panics, always
// registers, and leaves either the whole template result (ACTIVE, thing, policy)
// or the certificate alone PENDING_ACTIVATION; which one follows from the subject.
func FuzzJITPSubject(f *testing.F) {
	rig, err := pki.NewRootCA("fuzz rig root")
	if err != nil {
		f.Fatal(err)
	}
	r, err := New(Config{Region: "eu-west-1", AccountID: "123456789012", EndpointPrefix: "fuzz",
		Addr: "127.0.0.1:0", CA: rig, DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = r.Close() })
	reg := r.Registry()
	if _, err := reg.CreateThingGroup(registry.ThingGroup{Name: "gateways"}); err != nil {
		f.Fatal(err)
	}
	if _, err := reg.CreatePolicy("GatewayDevicePolicy", `{"Version":"2012-10-17","Statement":[]}`); err != nil {
		f.Fatal(err)
	}
	makers := make([]*pki.CA, 2)
	for i, body := range []string{GatewayJITPTemplate, subjectJITPTemplate} {
		if makers[i], err = pki.NewRootCA("fuzz maker " + string(rune('A'+i))); err != nil {
			f.Fatal(err)
		}
		if _, err := r.RegisterCA(string(makers[i].CertPEM()), CARegistration{AllowAutoRegistration: true, TemplateBody: body}); err != nil {
			f.Fatal(err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}

	f.Add("gw-1", "", "", "", "", "", "", false)
	f.Add("gw 1", "", "", "", "", "", "", false)
	f.Add("", "", "", "", "", "", "", false)
	f.Add("gw", "SN-1", "DE", "Example", "Gateways", "Bavaria", "q1", true)
	f.Add("gw", "SN-1", "DE", "Example", "Gateways", "Bavaria", "", true)
	f.Add("gw", "SN/1", "DE", "Example", "Gateways", "Bavaria", "q1", true)
	f.Add("gw\x00", "", "", "", "", "", "", false)
	f.Add("é", "1", "", "", "", "", "", true)
	f.Fuzz(func(t *testing.T, cn, serial, country, org, ou, st, dnq string, subjectTemplate bool) {
		subject := pkix.Name{CommonName: cn, SerialNumber: serial}
		for _, kv := range []struct {
			dst *[]string
			v   string
		}{{&subject.Country, country}, {&subject.Organization, org}, {&subject.OrganizationalUnit, ou}, {&subject.Province, st}} {
			if kv.v != "" {
				*kv.dst = []string{kv.v}
			}
		}
		if dnq != "" {
			subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidDNQualifier, Value: dnq}}
		}
		maker := makers[0]
		if subjectTemplate {
			maker = makers[1]
		}
		issued, err := maker.IssueClient(&key.PublicKey, subject, time.Time{})
		if err != nil {
			t.Skip("subject cannot be encoded") // not a certificate a device could present
		}
		// The region sees what the TLS stack parses, not what was issued.
		leaf, err := x509.ParseCertificate(issued.Raw)
		if err != nil {
			t.Skip("issued certificate does not parse")
		}
		cert, registered, err := r.autoRegister(leaf, "fuzz.example.com")
		if err != nil || !registered {
			t.Fatalf("autoRegister: registered %t, %v", registered, err)
		}
		if _, again, err := r.autoRegister(leaf, "fuzz.example.com"); err != nil || again {
			t.Fatalf("second autoRegister: registered %t, %v", again, err)
		}

		params := template.SubjectParameters(leaf.Subject, cert.ID)
		want, thing := registry.StatusActive, params[template.ParamCommonName]
		if subjectTemplate {
			thing += "-" + params[template.ParamSerialNumber]
			for _, p := range template.BuiltinParameters() {
				if _, ok := params[p]; !ok {
					want = registry.StatusPendingActivation
				}
			}
		} else if _, ok := params[template.ParamCommonName]; !ok {
			want = registry.StatusPendingActivation
		}
		if !registry.ValidThingName(thing) {
			want = registry.StatusPendingActivation
		}

		stored, err := reg.GetCertificate(cert.ID)
		if err != nil {
			t.Fatal(err)
		}
		things, err := reg.ThingsForCertificate(cert.ID)
		if err != nil {
			t.Fatal(err)
		}
		pols, err := reg.PoliciesForCertificate(cert.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status != want {
			t.Fatalf("certificate %s, want %s (params %q)", stored.Status, want, params)
		}
		switch want {
		case registry.StatusActive:
			if !slices.Equal(things, []string{thing}) || len(pols) != 1 {
				t.Fatalf("ACTIVE certificate attached to things %q, %d policies", things, len(pols))
			}
			th, err := reg.GetThing(thing)
			if err != nil || !slices.Contains(th.Groups, "gateways") {
				t.Fatalf("thing %q: %+v, %v", thing, th, err)
			}
		default:
			if len(things) != 0 || len(pols) != 0 {
				t.Fatalf("half-created: PENDING_ACTIVATION certificate attached to things %q, %d policies", things, len(pols))
			}
		}
	})
}
