package mockcloud

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/provisioning"
)

// A policy made and attached through the control plane judges the next PUBLISH of
// a connection that is already up, and a detached one stops allowing it: the
// broker reads a certificate's policies on every operation, as AWS evaluates them.
func TestControlPlanePolicyTakesEffectOnLiveConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := defaultRig(t)
	cfg.IoT.KeyPoolSize = 0
	c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	region := c.defaultRegion()
	claim, err := tls.LoadX509KeyPair(c.Files().Claim, c.Files().ClaimKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(claim.Certificate[0])
	certARN := "arn:aws:iot:" + region + ":" + cfg.AccountID + ":cert/" + hex.EncodeToString(sum[:])

	call := func(method, path, body string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, c.ControlPlaneURL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
	}
	dial := func(id string) *provisioning.Conn {
		t.Helper()
		dc := provisioning.DialConfig{ServerName: cfg.GlobalName, RootCAs: c.ca.Pool(), Certificate: claim, ClientID: id}
		for _, ri := range c.Regions() {
			if ri.Name == region {
				dc.Addrs = append(dc.Addrs, ri.Addr)
			}
		}
		conn, err := provisioning.Dial(ctx, dc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(conn.Close)
		return conn
	}
	const topic = "factory/line-1/test"
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:` + region + `:` + cfg.AccountID + `:topic/` + topic + `"}]}`
	docJSON := strings.ReplaceAll(doc, `"`, `\"`)

	before := dial("fleetboot-claim-before")
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	err = before.Publish(pctx, topic, 1, false, []byte("x"))
	pcancel()
	if !errors.Is(err, provisioning.ErrConnectionLost) {
		t.Fatalf("publish outside the claim policy: %v, want the connection closed", err)
	}

	call(http.MethodPost, "/policies/factory-test", `{"policyDocument":"`+docJSON+`"}`)
	call(http.MethodPut, "/target-policies/factory-test", `{"target":"`+certARN+`"}`)
	conn := dial("fleetboot-claim-during")
	pctx, pcancel = context.WithTimeout(ctx, 5*time.Second)
	err = conn.Publish(pctx, topic, 1, false, []byte("x"))
	pcancel()
	if err != nil {
		t.Fatalf("publish allowed by the attached policy: %v", err)
	}
	call(http.MethodPost, "/target-policies/factory-test", `{"target":"`+certARN+`"}`)
	pctx, pcancel = context.WithTimeout(ctx, 5*time.Second)
	err = conn.Publish(pctx, topic, 1, false, []byte("x"))
	pcancel()
	if !errors.Is(err, provisioning.ErrConnectionLost) {
		t.Fatalf("publish after DetachPolicy on the same connection: %v, want the connection closed", err)
	}
}
