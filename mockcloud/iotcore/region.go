// Package iotcore is one mock AWS IoT Core region: a mochi-mqtt broker behind mutual
// TLS on a loopback address, its registry, IoT policy enforcement and the fleet
// provisioning MQTT API, behaving as AWS IoT does where the difference matters to a
// device (see PROTOCOL.md). Start a region from Go on an ephemeral port:
//
//	r, err := iotcore.New(iotcore.Config{Region: "eu-west-1", AccountID: "123456789012",
//		EndpointPrefix: "a1b2c3", Addr: "127.0.0.1:0", CA: ca, DataDir: dir})
//	err = r.Start(ctx)
//	defer r.Close()
//
// Behaviour choices where AWS is not documented (PROTOCOL.md [unconf]):
//   - An unknown, inactive, pending or revoked client certificate fails the TLS
//     handshake (bad certificate alert); no CONNACK is sent.
//   - A QoS 2 PUBLISH closes the connection (AWS sends no PUBACK/PUBREC). A QoS 2
//     SUBSCRIBE is granted QoS 1 in the SUBACK, which MQTT allows a QoS-1 server.
//   - A PUBLISH to any "$" topic other than a fleet provisioning request topic or
//     an AWS service topic (serviceTopic), and a SUBSCRIBE to a "$" filter outside
//     "$aws/", close the connection. A PUBLISH to a service topic is judged by the
//     policy and, if allowed, accepted and dropped: no service behind it here.
//   - Provisioning replies go at the subscription's QoS (at most 1), only to the
//     connection that asked, only if it is subscribed and iot:Receive allows it.
//     A QoS 1 reply not yet acknowledged ends with that connection: a later
//     connection resuming the persistent session is never sent it.
//   - CreateKeysAndCertificate returns a PKCS#1 "RSA PRIVATE KEY" PEM of 2048 bits.
//   - A template policy given by document is created under the hex SHA-256 of the
//     document (PolicyNameForDocument).
//   - Thing policy variables resolve when the client id names a thing attached to
//     the certificate.
//   - Just-in-time registration (RegisterCA): an unknown certificate issued by a
//     registered ACTIVE CA that allows auto-registration is registered during the
//     handshake of its first connection, with its CA's JITP template applied in
//     the same transaction. The event goes to $aws/events/certificates/registered/
//     <caCertificateId> (subscribers need iot:Subscribe and iot:Receive, as on AWS)
//     and the connection is closed at CONNECT without CONNACK
//     (Config.JITPKeepFirstConnection). A template that fails leaves the
//     certificate PENDING_ACTIVATION and nothing else; without a template (JITR)
//     it stays PENDING_ACTIVATION too. Auto-registration requires SNI even with
//     AllowMissingSNI; the CA after the leaf is optional. Certificate validity
//     dates are not checked, here as for registered certificates.
//   - A certificate that leaves ACTIVE loses its live connections: at once through
//     SetCertificateStatus, otherwise at the next session check (AWS: "within a
//     few minutes" of UpdateCertificate).
//
// Faults (Config.Faults, Region.SetFaults) make the region misbehave on purpose:
// replies lost, duplicated or late, requests throttled, connections dropped at a
// chosen step, TLS handshakes left unanswered, and AWS's limit of one CONNECT per
// second per client id. They are off unless set.
package iotcore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// Region is one running mock region.
type Region struct {
	cfg    Config
	log    *zap.Logger
	reg    *registry.Store
	authz  *authorizer
	keys   *keyPool
	prov   *Provisioner
	broker *mqtt.Server
	hook   *brokerHook
	faults *faultState

	mochiMuted atomic.Bool
	events     *mqtt.Client // inline publisher of $aws/events; not in the client list
	jitpMu     sync.Mutex   // serializes auto-registrations

	checkMu sync.Mutex // one DisconnectInactive at a time

	mu      sync.Mutex
	started bool
	closed  bool
	addr    netip.AddrPort
	ln      *tlsListener

	ctx    context.Context // lives until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // sweeper and provisioning requests
	sem    chan struct{}  // bounds provisioning requests in progress
}

// New validates cfg and opens the registry; nothing listens until Start.
func New(cfg Config) (*Region, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With(zap.String("region", cfg.Region))
	reg, err := registry.Open(cfg.DataDir, registry.Options{Region: cfg.Region, AccountID: cfg.AccountID, Clock: cfg.Clock, Logger: log.Named("registry")})
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", cfg.Region, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Region{
		cfg:    cfg,
		log:    log,
		reg:    reg,
		authz:  newAuthorizer(reg, cfg.Region, cfg.AccountID, log.Named("authz")),
		keys:   newKeyPool(cfg.KeyPoolSize, log.Named("keypool")),
		ctx:    ctx,
		cancel: cancel,
		sem:    make(chan struct{}, 4*runtime.GOMAXPROCS(0)),
		faults: newFaultState(cfg.Faults),
	}
	r.prov = newProvisioner(reg, cfg.CA, r.keys, cfg.Clock, cfg.TokenLifetime, log.Named("provisioning"))
	r.prov.replay = cfg.RegisterThingReplay
	return r, nil
}

// Registry is the region's registry, for seeding and for the control plane.
func (r *Region) Registry() *registry.Store { return r.reg }

// Provisioner answers fleet provisioning requests without MQTT (tests, fuzzing).
func (r *Region) Provisioner() *Provisioner { return r.prov }

// Endpoint is the ATS data endpoint name, <prefix>-ats.iot.<region>.amazonaws.com.
func (r *Region) Endpoint() string { return r.cfg.endpoint() }

// Name is the region name, e.g. eu-west-1.
func (r *Region) Name() string { return r.cfg.Region }

// Addr is the bound address; valid after Start.
func (r *Region) Addr() netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Start binds the listener and serves; it returns once the port accepts
// connections. ctx bounds the start only: the region runs until Close.
func (r *Region) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return ErrClosed
	case r.started:
		return ErrStarted
	}
	tlsCfg, err := r.serverTLS()
	if err != nil {
		return fmt.Errorf("start region %s: %w", r.cfg.Region, err)
	}
	var lc net.ListenConfig
	nl, err := lc.Listen(ctx, "tcp", r.cfg.Addr)
	if err != nil {
		return fmt.Errorf("start region %s: %w", r.cfg.Region, err)
	}
	if r.cfg.WrapListener != nil {
		nl = r.cfg.WrapListener(nl)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumQos = 1
	// Room for the 128 KiB payload plus a 256-byte topic and MQTT 5 properties;
	// anything bigger is refused by mochi before it is read into memory.
	caps.MaximumPacketSize = provisioning.MaxPayload + 4096
	caps.SubIDAvailable = 0 // AWS: subscription identifiers not supported
	caps.MaximumSessionExpiryInterval = 3600
	// mochi's default of 8,192 gives every connection a 64 KiB channel; a device
	// here has at most a few replies in flight, and a rig holds 10,000 devices.
	caps.MaximumClientWritesPending = 256
	r.broker = mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       newSlog(r.log, &r.mochiMuted),
		// $SYS is not AWS's: publish it practically never (mochi has no off switch),
		// and SUBSCRIBE to $SYS closes the connection anyway.
		SysTopicResendInterval: math.MaxInt32,
	})
	// An inline client outside the client list: no device client id can collide
	// with it, and its publishes skip iot:Publish but not subscribers' iot:Receive.
	r.events = r.broker.NewClient(nil, mqtt.LocalListener, "$aws/events", true)
	r.hook = &brokerHook{r: r, sessions: map[*mqtt.Client]*session{}}
	// The fault hook goes first: it stands for the network and the throttling
	// front end, which act before authentication.
	if err := r.broker.AddHook(&faultHook{r: r}, nil); err != nil {
		nl.Close()
		return fmt.Errorf("start region %s: %w", r.cfg.Region, err)
	}
	if err := r.broker.AddHook(r.hook, nil); err != nil {
		nl.Close()
		return fmt.Errorf("start region %s: %w", r.cfg.Region, err)
	}
	r.ln = newTLSListener("iot-"+r.cfg.Region, nl, tlsCfg, r.cfg.HandshakeTimeout, r.cfg.ConnectTimeout, r.cfg.PacketTimeout, r.log.Named("listener"))
	r.ln.stall = r.faults.stall
	if err := r.broker.AddListener(r.ln); err != nil {
		nl.Close()
		return fmt.Errorf("start region %s: %w", r.cfg.Region, err)
	}
	if err := r.broker.Serve(); err != nil {
		nl.Close()
		return fmt.Errorf("start region %s: %w", r.cfg.Region, err)
	}
	r.addr = netip.MustParseAddrPort(nl.Addr().String())
	r.keys.start(r.ctx)
	r.wg.Add(2)
	go r.every(r.cfg.SweepInterval, "token sweep", r.SweepExpiredTokens)
	go r.every(r.cfg.SessionCheckInterval, "session check", r.DisconnectInactive)
	r.started = true
	r.log.Info("region listening", zap.Stringer("addr", r.addr), zap.String("endpoint", r.Endpoint()))
	return nil
}

// every runs fn each interval until the region closes; a failure is logged as what.
// The token sweep deletes expired ownership tokens and their never-activated
// certificates; the session check closes the connections whose certificate is no
// longer ACTIVE, whoever changed its status.
func (r *Region) every(interval time.Duration, what string, fn func() (int, error)) {
	defer r.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			if _, err := fn(); err != nil && !errors.Is(err, registry.ErrClosed) {
				r.log.Warn(what, zap.Error(err))
			}
		}
	}
}

// SetCertificateStatus changes a certificate's status in the registry and, when
// the new status is not ACTIVE, closes every connection that uses it at once. AWS
// does the same "within a few minutes" of UpdateCertificate and refuses the
// certificate on reconnect; status changes made on the registry directly are
// enforced at the next session check (Config.SessionCheckInterval).
func (r *Region) SetCertificateStatus(id, status string) error {
	if err := r.reg.SetCertificateStatus(id, status); err != nil {
		return err
	}
	if strings.EqualFold(status, registry.StatusActive) {
		return nil
	}
	_, err := r.DisconnectInactive()
	return err
}

// DisconnectInactive closes the connections whose certificate is not ACTIVE (or no
// longer exists) and returns how many it closed.
func (r *Region) DisconnectInactive() (int, error) {
	r.mu.Lock()
	started := r.started && !r.closed
	r.mu.Unlock()
	if !started {
		return 0, nil
	}
	r.checkMu.Lock()
	defer r.checkMu.Unlock()
	n := 0
	for id, clients := range r.hook.clientsByCertificate() {
		status := registry.StatusActive
		c, err := r.reg.GetCertificate(id)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			status = "DELETED"
		case err != nil:
			return n, fmt.Errorf("check certificate %s: %w", id, err)
		default:
			status = c.Status
		}
		if status == registry.StatusActive {
			continue
		}
		for _, cl := range clients {
			if cl.Closed() {
				continue // closed by an earlier check, not yet forgotten
			}
			r.hook.disconnect(cl, id, status)
			r.faults.countCertificateDisconnect()
			n++
		}
	}
	return n, nil
}

// SweepExpiredTokens runs one sweep now, on the region's clock.
func (r *Region) SweepExpiredTokens() (int, error) {
	return r.reg.SweepExpiredTokens(r.cfg.Clock())
}

// dispatch answers a provisioning request off the client's read loop, which
// writes the PUBACK meanwhile: the PUBACK usually goes first, as from the real
// service, but under load the reply can overtake it. MQTT allows either order,
// and a client must take both.
func (r *Region) dispatch(cl *mqtt.Client, p principal, t provisioning.Topic, payload []byte) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case r.sem <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		plan := r.faults.plan(t.Op)
		var (
			outcome provisioning.Outcome
			reply   []byte
		)
		if plan.throttle != 0 {
			outcome, reply = provisioning.Rejected, throttledReply(t.Format, plan.throttle)
			r.log.Info("fault: provisioning request throttled", zap.String("client_id", p.clientID), zap.String("op", string(t.Op)))
		} else {
			outcome, reply = r.prov.Handle(r.ctx, t, payload, p.clientID)
			if f, _ := r.faults.get(); f.RewriteReply != nil && outcome == provisioning.Accepted {
				reply = f.RewriteReply(t.Op, t.Format, reply)
			}
		}
		<-r.sem // a reply held back by a fault does not hold up other requests
		r.replyWithFaults(cl, p, t, outcome, reply, plan)
	}()
}

// deliver writes a reply to the one connection that asked, if it still is the
// live connection of its client id, is subscribed to the topic and may receive it.
// The reply is bound to that connection: a QoS 1 reply waits for its PUBACK in
// the connection's in-flight messages, and leaves them when the connection ends
// (brokerHook.endReplies), so no other connection resuming the session gets it.
func (r *Region) deliver(cl *mqtt.Client, p principal, topic string, payload []byte) {
	log := r.log.With(zap.String("client_id", p.clientID), zap.String("topic", topic))
	s := r.hook.session(cl)
	if cur, ok := r.broker.Clients.Get(cl.ID); s == nil || !ok || cur != cl || cl.Closed() {
		log.Debug("reply dropped: connection gone")
		return
	}
	qos, ok := subscribedQoS(cl, topic)
	if !ok {
		log.Info("reply dropped: connection not subscribed to the reply topic")
		return
	}
	if !r.authz.canReceive(p, topic) {
		log.Info("reply dropped: iot:Receive denied")
		return
	}
	out := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: min(qos, 1)},
		TopicName:   topic,
		Payload:     payload,
		Created:     time.Now().Unix(),
	}
	switch live, err := s.holdReply(cl, &out); {
	case err != nil:
		log.Warn("reply dropped: no packet id", zap.Error(err))
		return
	case !live:
		log.Debug("reply dropped: connection gone")
		return
	}
	if err := cl.WritePacket(out); err != nil {
		log.Debug("reply not written", zap.Error(err))
	}
}

// Close stops the broker, waits for every goroutine of the region and closes the
// registry. Idempotent.
func (r *Region) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	started := r.started
	r.mu.Unlock()

	r.cancel()
	var errs []error
	if started {
		r.mochiMuted.Store(true)
		if err := r.broker.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close broker: %w", err))
		}
	}
	r.wg.Wait()
	r.keys.wait()
	if err := r.reg.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
