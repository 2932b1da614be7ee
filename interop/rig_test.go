package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"go.uber.org/zap/zaptest"
)

const (
	testRegion   = "eu-west-1"
	testAccount  = "123456789012"
	testPrefix   = "a1b2c3d4e5f6g7"
	customDomain = "global.iot.example.com"
	templateName = "GatewayProvisioning"
	templateFile = "../mockcloud/defaults/GatewayProvisioning.json"
	thingGroup   = "gateways"
	devicePolicy = "GatewayDevicePolicy"
)

// sharedCA saves a key generation per test; otherCA is a root no region uses.
var (
	sharedCA = sync.OnceValues(func() (*pki.CA, error) { return pki.NewRootCA("interop test root") })
	otherCA  = sync.OnceValues(func() (*pki.CA, error) { return pki.NewRootCA("interop unrelated root") })
)

// otherCAFile is a root CA file that does not vouch for the region.
func otherCAFile(t testing.TB, rg *rig) string {
	t.Helper()
	ca, err := otherCA()
	must(t, err)
	return rg.write("other-ca.pem", ca.CertPEM())
}

// rig is one region seeded for fleet provisioning, with its files on disk for
// programs that take paths.
type rig struct {
	t      testing.TB
	ca     *pki.CA
	region *iotcore.Region
	reg    *registry.Store
	dir    string
	caFile string
	claim  identity
}

// identity is a device credential, in memory and on disk.
type identity struct {
	certID   string
	crtPEM   []byte
	keyPEM   []byte
	certFile string
	keyFile  string
}

// endpoint is the name clients ask for: the custom domain at the region's port.
func (rg *rig) endpoint() string {
	return net.JoinHostPort(customDomain, strconv.Itoa(int(rg.region.Addr().Port())))
}

func arn(kind, rest string) string {
	return fmt.Sprintf("arn:aws:iot:%s:%s:%s/%s", testRegion, testAccount, kind, rest)
}

// claimPolicyDoc allows the fleet provisioning topics of the template and nothing
// else (PROTOCOL.md §1.7).
func claimPolicyDoc() string {
	res := func(kind string) string {
		return fmt.Sprintf(`[%q,%q,%q]`,
			arn(kind, "$aws/certificates/create/*"),
			arn(kind, "$aws/certificates/create-from-csr/*"),
			arn(kind, "$aws/provisioning-templates/"+templateName+"/provision/*"))
	}
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "*") + `"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":` + res("topic") + `},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":` + res("topicfilter") + `}]}`
}

// devicePolicyDoc lets a provisioned gateway connect as its thing and use its own
// topics only.
func devicePolicyDoc() string {
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "${iot:Connection.Thing.ThingName}") + `"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"` + arn("topic", "gateways/${iot:Connection.Thing.ThingName}/*") + `"},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn("topicfilter", "gateways/${iot:Connection.Thing.ThingName}/*") + `"}]}`
}

// observerPolicyDoc is for the test's own client, which watches every gateway's
// status topic.
func observerPolicyDoc() string {
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "observer") + `"},` +
		`{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn("topic", "gateways/*") + `"},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn("topicfilter", "gateways/*") + `"}]}`
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func errOnly[T any](_ T, err error) error { return err }

// newRig starts a region on loopback that answers for customDomain, seeded with
// the gateway template, its group and device policy, and a claim certificate
// registered without CA.
func newRig(t testing.TB, mod ...func(*iotcore.Config)) *rig {
	t.Helper()
	ca, err := sharedCA()
	must(t, err)
	cfg := iotcore.Config{
		Region: testRegion, AccountID: testAccount, EndpointPrefix: testPrefix,
		Addr: "127.0.0.1:0", CustomDomains: []string{customDomain}, CA: ca,
		DataDir: t.TempDir(), KeyPoolSize: 4,
		HandshakeTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second,
		Logger: zaptest.NewLogger(t),
	}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := iotcore.New(cfg)
	must(t, err)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, r.Start(ctx))

	rg := &rig{t: t, ca: ca, region: r, reg: r.Registry(), dir: t.TempDir()}
	rg.caFile = rg.write("root-ca.pem", ca.CertPEM())
	body, err := os.ReadFile(templateFile)
	must(t, err)
	must(t, errOnly(rg.reg.CreateThingGroup(registry.ThingGroup{Name: thingGroup})))
	must(t, errOnly(rg.reg.CreatePolicy(devicePolicy, devicePolicyDoc())))
	must(t, errOnly(rg.reg.CreateTemplate(registry.Template{Name: templateName, Body: string(body), Enabled: true})))
	rg.claim = rg.newDevice("claim", "ClaimPolicy", claimPolicyDoc())
	return rg
}

func (rg *rig) write(name string, b []byte) string {
	rg.t.Helper()
	p := filepath.Join(rg.dir, name)
	must(rg.t, os.WriteFile(p, b, 0o600))
	return p
}

// newDevice issues an EC certificate from the rig CA, registers it without CA,
// ACTIVE, and attaches policyName (created from policyDoc if missing).
func (rg *rig) newDevice(name, policyName, policyDoc string) identity {
	rg.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(rg.t, err)
	c, err := rg.ca.IssueClient(&key.PublicKey, pkix.Name{CommonName: name}, time.Time{})
	must(rg.t, err)
	crtPEM := pki.EncodeCertPEM(c)
	rec, err := rg.reg.RegisterCertificate(string(crtPEM), registry.StatusActive, "")
	must(rg.t, err)
	if _, err := rg.reg.GetPolicy(policyName); err != nil {
		must(rg.t, errOnly(rg.reg.CreatePolicy(policyName, policyDoc)))
	}
	must(rg.t, rg.reg.AttachPolicy(policyName, rec.ID))
	keyPEM := ecKeyPEM(rg.t, key)
	return identity{
		certID: rec.ID, crtPEM: crtPEM, keyPEM: keyPEM,
		certFile: rg.write(name+".pem", crtPEM), keyFile: rg.write(name+".key", keyPEM),
	}
}

func ecKeyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
