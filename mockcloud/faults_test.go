package mockcloud

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/agent"
	_ "github.com/fleetboot/fleetboot/keystore/file"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/provisioning"
)

func TestParseFaults(t *testing.T) {
	f, err := ParseFaults([]byte(`{"loseReply":{"ops":["RegisterThing"],"times":1},"delayReply":{"ms":1500},
		"throttle":{"statusCode":400},"drop":{"at":"after-request","ops":["CreateCertificateFromCsr"]},
		"stallHandshake":{"times":2},"clientIdConnectIntervalMs":1000}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.LoseReply == nil || len(f.LoseReply.Ops) != 1 || f.LoseReply.Ops[0] != provisioning.OpRegisterThing || f.LoseReply.Times != 1 ||
		f.DelayReply == nil || f.DelayReply.By != 1500*time.Millisecond || f.Throttle == nil || f.Throttle.StatusCode != 400 ||
		f.Drop == nil || f.Drop.At != iotcore.DropAfterRequest || f.StallHandshake == nil || f.StallHandshake.Times != 2 ||
		f.ClientIDConnectInterval != time.Second || f.DuplicateReply != nil {
		t.Fatalf("parsed %+v", f)
	}
	if f, err := ParseFaults([]byte(`{}`)); err != nil || f.LoseReply != nil || f.Throttle != nil || f.ClientIDConnectInterval != 0 {
		t.Fatalf("{} = %+v, %v; want no faults", f, err)
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"loseReplies":{}}`, "loseReplies"},
		{`{"loseReply":{"ops":["Publish"]}}`, "loseReply.ops[0]"},
		{`{"duplicateReply":{"times":-1}}`, "duplicateReply.times"},
		{`{"delayReply":{}}`, "delayReply.ms"},
		{`{"throttle":{"statusCode":200}}`, "throttle.statusCode"},
		{`{"drop":{"at":"later"}}`, "drop.at"},
		{`{"stallHandshake":{"times":-2}}`, "stallHandshake.times"},
		{`{"clientIdConnectIntervalMs":-5}`, "clientIdConnectIntervalMs"},
		{`[1]`, "faults"},
	} {
		if _, err := ParseFaults([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.doc, err, tc.want)
		}
	}
}

// A rig switched from outside through the control plane: every create request
// throttled, then the faults cleared; the faults survive the region going down
// and up.
func TestFaultsThroughControlPlane(t *testing.T) {
	cfg := defaultRig(t)
	cfg.IoT.KeyPoolSize = 0
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	post := func(path, body string) int {
		resp, err := http.Post(c.ControlPlaneURL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/_mockcloud/regions/eu-west-1/faults", `{"throttle":{"ops":["CreateCertificateFromCsr"]}}`); code != 200 {
		t.Fatalf("set faults: HTTP %d", code)
	}
	if code := post("/_mockcloud/regions/eu-west-1/faults", `{"throttle":{"ops":["Publish"]}}`); code != 400 {
		t.Fatalf("bad faults: HTTP %d, want 400", code)
	}
	if err := c.SetRegionDown("eu-west-1", true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRegionDown("eu-west-1", false); err != nil {
		t.Fatal(err)
	}
	acfg, err := agent.LoadConfig(c.Files().DeviceConfig)
	if err != nil {
		t.Fatal(err)
	}
	acfg.StateDir = filepath.Join(t.TempDir(), "dev")
	acfg.DNS.ClientSubnet = "192.0.2.0/24"
	acfg.Provisioning.Parameters = map[string]string{"SerialNumber": "FAULTS-1"}
	acfg.SetDefaults()
	a, err := agent.New(ctx, agent.Options{Config: acfg, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Provision(ctx); agent.ClassOf(err) != agent.ClassThrottled {
		t.Fatalf("provision while throttled: %v (class %v)", err, agent.ClassOf(err))
	}
	if code := post("/_mockcloud/regions/eu-west-1/faults", `{}`); code != 200 {
		t.Fatalf("clear faults: HTTP %d", code)
	}
	if st, err := a.Provision(ctx); err != nil || st.ThingName != "gw-FAULTS-1" {
		t.Fatalf("provision after the faults were cleared: %+v, %v", st, err)
	}
}

func FuzzParseFaults(f *testing.F) {
	for _, seed := range []string{`{}`, `{"loseReply":{"ops":["RegisterThing"],"times":1}}`, `{"delayReply":{"ms":10}}`,
		`{"drop":{"at":"connect"}}`, `{"throttle":{"statusCode":429,"ops":["CreateKeysAndCertificate"]}}`, `{"clientIdConnectIntervalMs":1000}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		faults, err := ParseFaults(doc)
		if err != nil {
			return
		}
		// What parses is usable: every fault it names is well formed.
		if d := faults.DelayReply; d != nil && d.By <= 0 {
			t.Fatalf("delay %v accepted", d.By)
		}
		if faults.ClientIDConnectInterval < 0 {
			t.Fatal("negative connect interval accepted")
		}
		for _, m := range []*iotcore.Match{faults.LoseReply, faults.DuplicateReply} {
			if m != nil && m.Times < 0 {
				t.Fatal("negative times accepted")
			}
		}
	})
}
