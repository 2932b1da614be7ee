package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/keystore"
)

// jitpAttempts bounds the connections one Provision call makes in JITP mode: the
// first is expected to be dropped while the cloud registers the certificate.
const jitpAttempts = 6

// provisionJITP registers a factory certificate by connecting with it: AWS IoT
// registers a certificate from an auto-registering CA on first contact, applies the
// CA's template and drops that first connection; the next one is accepted. The
// thing is named after the certificate's CommonName (the JITP template's rule) and
// the client id is that name, as the device policy expects.
func (a *Agent) provisionJITP(ctx context.Context) (*State, error) {
	st := a.current()
	cert, err := keystore.TLSCertificate(ctx, a.ks)
	if err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			err = fmt.Errorf("%w: install the factory certificate with `fleetboot factory install-cert`", err)
		}
		return nil, configErr("load factory certificate", err)
	}
	leaf, _, err := a.ks.Certificate(ctx)
	if err != nil {
		return nil, configErr("load factory certificate", err)
	}
	thing := leaf.Subject.CommonName
	if thing == "" {
		return nil, configErr("factory certificate", errors.New("subject has no CommonName to name the thing after"))
	}
	if err := a.step(StepResolve, func() error {
		res, err := a.resolver.Resolve(ctx, a.serverName())
		if err != nil {
			return classify("resolve "+a.serverName(), err)
		}
		a.setResolved(res)
		st.Region, st.Endpoint, st.ServerName = res.Region, pinnedName(res), a.serverName()
		st.Addrs, st.AddrsExpire = addrStrings(res.Addrs), a.expiry(res.TTL)
		return nil
	}); err != nil {
		return nil, err
	}
	addrs := a.addrPorts(a.lastResolved().Addrs)
	bo := a.backoff(500*time.Millisecond, 10*time.Second)
	var last error
	for attempt := 1; attempt <= jitpAttempts; attempt++ {
		err := a.step(StepJITPConnect, func() error {
			dc := a.dialConfig(cert, thing, addrs)
			dc.Will = a.offlineWill(thing)
			conn, err := a.connect(ctx, dc)
			if err != nil {
				return classify(fmt.Sprintf("connect as %q with the factory certificate", thing), err)
			}
			a.setAccepted(conn)
			return nil
		})
		if err == nil {
			st.Phase, st.Mode, st.ThingName = PhaseRegistered, ModeJITP, thing
			st.CertificateID = certificateID(leaf.Raw)
			if err := a.save(ctx, st); err != nil {
				if c := a.takeAccepted(); c != nil {
					c.Close()
				}
				return nil, err
			}
			a.log.Info("registered just in time", zap.String("thing", thing), zap.String("region", st.Region), zap.Int("attempt", attempt))
			return a.current(), nil
		}
		last = err
		if ctx.Err() != nil || ClassOf(err) == ClassConfig {
			return nil, err
		}
		a.log.Info("factory certificate not accepted yet; the first connection is dropped while the cloud registers it",
			zap.Int("attempt", attempt), zap.Error(err))
		if a.sleep(ctx, bo.Next()) != nil {
			return nil, last
		}
	}
	return nil, last
}
