package mockcloud

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/provisioning"
)

// The claim is the whole fleet's secret: the default claim policy lets it connect
// only with the agent's claim client ids, so a holder cannot take a gateway's thing
// name as client id and knock that gateway off.
func TestClaimPolicyAllowsOnlyClaimClientIDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := defaultRig(t)
	cfg.IoT.KeyPoolSize = 0
	c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	claim, err := tls.LoadX509KeyPair(c.Files().Claim, c.Files().ClaimKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		clientID string
		allowed  bool
	}{
		{"fleetboot-claim-0123456789abcdef", true},
		{"gw-0001", false},
		{"claim-0001", false},
		{"fleetboot-claim", false},
	} {
		t.Run(tc.clientID, func(t *testing.T) {
			dc := provisioning.DialConfig{
				ServerName:  cfg.GlobalName,
				RootCAs:     c.ca.Pool(),
				Certificate: claim,
				ClientID:    tc.clientID,
			}
			for _, ri := range c.Regions() {
				if ri.Name == c.defaultRegion() {
					dc.Addrs = append(dc.Addrs, ri.Addr)
				}
			}
			// One CONNECT per client id per second: each case has its own id.
			conn, err := provisioning.Dial(ctx, dc)
			if err == nil {
				conn.Close()
			}
			if got := err == nil; got != tc.allowed {
				t.Fatalf("claim connect as %q: err=%v, want allowed=%v", tc.clientID, err, tc.allowed)
			}
		})
	}
}
