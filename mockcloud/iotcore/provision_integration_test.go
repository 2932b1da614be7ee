package iotcore_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
)

// newCSR returns a P-256 CSR and its key as PEM.
func newCSR(t testing.TB) (csrPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "gw"}}, key)
	must(t, err)
	kd, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// credentials runs CreateKeysAndCertificate or CreateCertificateFromCsr on c.
func credentials(t testing.TB, c *client, f provisioning.Format, csr bool) (id identity, token string) {
	t.Helper()
	if csr {
		csrPEM, keyPEM := newCSR(t)
		out, payload := c.request(t, provisioning.CreateFromCSRTopic(f),
			marshal(t, f, provisioning.CreateCertificateFromCSRRequest{CertificateSigningRequest: string(csrPEM)}))
		if out != provisioning.Accepted {
			t.Fatalf("CreateCertificateFromCsr %s: %q", out, truncate(payload))
		}
		var resp provisioning.CreateCertificateFromCSRResponse
		unmarshal(t, f, payload, &resp)
		id = identityFromPEM(t, []byte(resp.CertificatePEM), keyPEM)
		if id.certID != resp.CertificateID {
			t.Fatalf("certificateId %s, certificate hashes to %s", resp.CertificateID, id.certID)
		}
		return id, resp.CertificateOwnershipToken
	}
	var payload []byte
	if f == provisioning.FormatJSON {
		payload = []byte("{}") // as the Python SDK sends
	}
	out, reply := c.request(t, provisioning.CreateKeysTopic(f), payload)
	if out != provisioning.Accepted {
		t.Fatalf("CreateKeysAndCertificate %s: %q", out, truncate(reply))
	}
	var resp provisioning.CreateKeysAndCertificateResponse
	unmarshal(t, f, reply, &resp)
	if b, _ := pem.Decode([]byte(resp.PrivateKey)); b == nil || b.Type != "RSA PRIVATE KEY" {
		t.Fatalf("private key is not an RSA PRIVATE KEY PEM")
	}
	id = identityFromPEM(t, []byte(resp.CertificatePEM), []byte(resp.PrivateKey))
	if id.certID != resp.CertificateID {
		t.Fatalf("certificateId %s, certificate hashes to %s", resp.CertificateID, id.certID)
	}
	return id, resp.CertificateOwnershipToken
}

func TestFleetProvisioning(t *testing.T) {
	rg := newRig(t)
	for _, tc := range []struct {
		name   string
		format provisioning.Format
		csr    bool
		serial string
	}{
		{"create-keys/json", provisioning.FormatJSON, false, "K-J-1"},
		{"create-keys/cbor", provisioning.FormatCBOR, false, "K-C-1"},
		{"create-from-csr/json", provisioning.FormatJSON, true, "C-J-1"},
		{"create-from-csr/cbor", provisioning.FormatCBOR, true, "C-C-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claim := rg.mustDial(rg.claim, "claim-"+tc.serial)
			id, token := credentials(t, claim, tc.format, tc.csr)

			cert, err := rg.reg.GetCertificate(id.certID)
			must(t, err)
			if cert.Status != registry.StatusPendingActivation {
				t.Fatalf("new certificate status %s, want PENDING_ACTIVATION", cert.Status)
			}
			if _, err := rg.dial(id, "gw-"+tc.serial, dialOpt{}); err == nil {
				t.Fatal("a PENDING_ACTIVATION certificate connected")
			}

			out, reply := claim.request(t, provisioning.RegisterThingTopic(templateName, tc.format), marshal(t, tc.format,
				provisioning.RegisterThingRequest{CertificateOwnershipToken: token, Parameters: map[string]string{"SerialNumber": tc.serial, "Site": "fra1"}}))
			if out != provisioning.Accepted {
				t.Fatalf("RegisterThing %s: %q", out, truncate(reply))
			}
			var rt provisioning.RegisterThingResponse
			unmarshal(t, tc.format, reply, &rt)
			thingName := "gw-" + tc.serial
			if rt.ThingName != thingName {
				t.Fatalf("thingName %q, want %q", rt.ThingName, thingName)
			}
			if got := rt.DeviceConfiguration["statusTopic"]; got != "gateways/"+thingName+"/status" {
				t.Fatalf("deviceConfiguration.statusTopic %v", got)
			}

			thing, err := rg.reg.GetThing(thingName)
			must(t, err)
			if !slices.Contains(thing.Groups, "gateways") || thing.Attributes["serial"] != tc.serial {
				t.Fatalf("thing %+v", thing)
			}
			cert, err = rg.reg.GetCertificate(id.certID)
			must(t, err)
			if cert.Status != registry.StatusActive {
				t.Fatalf("certificate status %s after RegisterThing", cert.Status)
			}
			pols, err := rg.reg.PoliciesForCertificate(id.certID)
			must(t, err)
			if len(pols) != 1 || pols[0].Name != "GatewayDevicePolicy" {
				t.Fatalf("policies %+v", pols)
			}

			// Token is single use.
			out, reply = claim.request(t, provisioning.RegisterThingTopic(templateName, tc.format), marshal(t, tc.format,
				provisioning.RegisterThingRequest{CertificateOwnershipToken: token, Parameters: map[string]string{"SerialNumber": tc.serial}}))
			var rej provisioning.ErrorResponse
			unmarshal(t, tc.format, reply, &rej)
			if out != provisioning.Rejected || rej.StatusCode != 400 || rej.ErrorCode != provisioning.CodeInvalidOwnershipToken {
				t.Fatalf("reused token: %s %+v", out, rej)
			}
			claim.Disconnect(100)

			// The new identity, client id = thing name.
			dev := rg.mustDial(id, thingName)
			status := "gateways/" + thingName + "/status"
			ch, err := dev.subscribe(t, status)
			must(t, err)
			must(t, dev.publish(t, status, 1, []byte(`{"up":true}`)))
			if m, ok := receive(t, ch, 5*time.Second); !ok || string(m.payload) != `{"up":true}` {
				t.Fatalf("own status message not received: %v %q", ok, m.payload)
			}
		})
	}
}

// A second device subscribed to the same reply topics receives nothing: replies go
// to the connection that asked, and requests reach no subscriber.
func TestReplyIsolation(t *testing.T) {
	rg := newRig(t)
	spy := rg.mustDial(rg.claim, "spy")
	f := provisioning.FormatJSON
	topic := provisioning.CreateKeysTopic(f)
	spied, err := spy.subscribe(t, append(topic.Replies(), topic.Request())...)
	must(t, err)
	dev := rg.mustDial(rg.claim, "device")
	if out, _ := dev.request(t, topic, nil); out != provisioning.Accepted {
		t.Fatalf("CreateKeysAndCertificate %s", out)
	}
	if m, ok := receive(t, spied, 500*time.Millisecond); ok {
		t.Fatalf("second device received %s", m.topic)
	}
}

func TestRegisterThingRejections(t *testing.T) {
	rg := newRig(t)
	_, err := rg.reg.PutTemplate(registry.Template{Name: "Disabled", Body: `{"Resources":{}}`, Enabled: false})
	must(t, err)
	claim := rg.mustDial(rg.claim, "claim")
	f := provisioning.FormatJSON
	_, token := credentials(t, claim, f, true)
	for _, tc := range []struct {
		name     string
		template string
		req      provisioning.RegisterThingRequest
		status   int
		code     string
	}{
		{"empty token", templateName, provisioning.RegisterThingRequest{}, 400, provisioning.CodeInvalidOwnershipToken},
		{"unknown token", templateName, provisioning.RegisterThingRequest{CertificateOwnershipToken: "nope"}, 400, provisioning.CodeInvalidOwnershipToken},
		{"missing parameter", templateName, provisioning.RegisterThingRequest{CertificateOwnershipToken: token}, 400, provisioning.CodeInvalidParameters},
		{"unknown template", "NoSuchTemplate", provisioning.RegisterThingRequest{CertificateOwnershipToken: token}, 404, provisioning.CodeTemplateNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := provisioning.RegisterThingTopic(tc.template, f)
			if tc.template != templateName {
				// The claim policy covers only its own template: use the region directly.
				out, reply := rg.region.Provisioner().Handle(t.Context(), tp, marshal(t, f, tc.req), "claim")
				checkRejected(t, f, out, reply, tc.status, tc.code)
				return
			}
			out, reply := claim.request(t, tp, marshal(t, f, tc.req))
			checkRejected(t, f, out, reply, tc.status, tc.code)
		})
	}
	// The token survives failed attempts that did not get past validation.
	out, reply := claim.request(t, provisioning.RegisterThingTopic(templateName, f),
		marshal(t, f, provisioning.RegisterThingRequest{CertificateOwnershipToken: token, Parameters: map[string]string{"SerialNumber": "X"}}))
	if out != provisioning.Accepted {
		t.Fatalf("RegisterThing after rejections: %q", truncate(reply))
	}
}

func checkRejected(t testing.TB, f provisioning.Format, out provisioning.Outcome, reply []byte, status int, code string) {
	t.Helper()
	var rej provisioning.ErrorResponse
	unmarshal(t, f, reply, &rej)
	if out != provisioning.Rejected || rej.StatusCode != status || rej.ErrorCode != code || rej.ErrorMessage == "" {
		t.Fatalf("got %s %+v, want rejected %d %s", out, rej, status, code)
	}
}
