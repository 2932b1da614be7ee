package agent

import (
	"context"
	"time"

	"github.com/fleetboot/fleetboot/provisioning"
)

// connectInterval is AWS IoT's limit of one CONNECT per second per client id
// (PROTOCOL.md): a sooner one is refused. JITP's expected first drop and a
// reconnect after a lost connection would otherwise often retry inside it, with
// jitter alone.
const connectInterval = time.Second

// connect dials, first waiting out connectInterval since the last dial with the
// same client id ended (the CONNECT went out before that end, so the next one is
// at least the interval later).
func (a *Agent) connect(ctx context.Context, dc provisioning.DialConfig) (*provisioning.Conn, error) {
	if last, ok := a.lastConnect[dc.ClientID]; ok {
		if err := a.sleep(ctx, connectInterval-time.Since(last)); err != nil {
			return nil, err
		}
	}
	conn, err := a.dial(ctx, dc)
	if a.lastConnect == nil {
		a.lastConnect = map[string]time.Time{}
	}
	a.lastConnect[dc.ClientID] = time.Now()
	return conn, err
}
