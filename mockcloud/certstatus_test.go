package mockcloud

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/provisioning"
)

// UpdateCertificate on the control plane closes the connections of a certificate
// that is no longer ACTIVE at once, not at the region's next session check (AWS:
// within a few minutes; the session check is set to an hour here, so only the
// immediate path can close it); a new connection with it is refused.
func TestUpdateCertificateClosesConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := defaultRig(t)
	cfg.IoT.KeyPoolSize = 0
	c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true, SessionCheckInterval: time.Hour})
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
	certID := hex.EncodeToString(sum[:])
	lost := make(chan error, 1)
	dc := provisioning.DialConfig{
		ServerName:  cfg.GlobalName,
		RootCAs:     c.ca.Pool(),
		Certificate: claim,
		ClientID:    "fleetboot-claim-status",
		Observe: func(e provisioning.Event) {
			if e.Kind == provisioning.EventConnectionLost {
				select {
				case lost <- e.Err:
				default:
				}
			}
		},
	}
	for _, ri := range c.Regions() {
		if ri.Name == region {
			dc.Addrs = append(dc.Addrs, ri.Addr)
		}
	}
	conn, err := provisioning.Dial(ctx, dc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.ControlPlaneURL()+"/certificates/"+certID+"?newStatus=INACTIVE", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("UpdateCertificate: HTTP %d", resp.StatusCode)
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed up after its certificate was set INACTIVE")
	}
	dc.Observe = nil
	if again, err := provisioning.Dial(ctx, dc); err == nil {
		again.Close()
		t.Fatal("an INACTIVE certificate connected again")
	} else if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reconnect: %v, want a refusal", err)
	}
}
