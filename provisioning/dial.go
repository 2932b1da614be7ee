package provisioning

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// Defaults and AWS IoT limits that DialConfig is checked against.
const (
	DefaultKeepAlive      = 60 * time.Second
	DefaultConnectTimeout = 30 * time.Second
	MinKeepAlive          = 30 * time.Second   // AWS raises anything lower to 30 s
	MaxKeepAlive          = 1200 * time.Second // AWS lowers anything higher to 1200 s
	MaxClientIDBytes      = 128

	// attemptDelay is RFC 8305's recommended connection attempt delay.
	attemptDelay = 250 * time.Millisecond
	// alpnMQTT is what AWS IoT expects on port 443 for MQTT with a client certificate.
	alpnMQTT = "x-amzn-mqtt-ca"
)

// Message is a PUBLISH as the caller sees it; used for the Will.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// DialConfig describes one MQTT 3.1.1 connection over mutual TLS. The zero values
// of KeepAlive, ConnectTimeout, Now, Logger and Observe pick defaults.
type DialConfig struct {
	// ServerName is the TLS SNI and the name the server certificate is verified
	// against: the global name or custom domain, also when dialing a resolved address.
	ServerName string
	// Addrs are tried in this order, Happy Eyeballs style (RFC 8305): the caller
	// interleaves the families.
	Addrs []netip.AddrPort
	// RootCAs verify the server. Required: the system pool is never used implicitly.
	RootCAs *x509.CertPool
	// Certificate is the client identity. PrivateKey may be any crypto.Signer, a
	// TPM-backed one included. Certificate[1:] (the chain) is sent as given.
	Certificate tls.Certificate
	// ClientID: 1 to 128 bytes of UTF-8, not starting with '$'.
	ClientID string
	// KeepAlive: 30 s to 1200 s, AWS's accepted range; zero means DefaultKeepAlive.
	KeepAlive time.Duration
	// Will is published by the broker if the connection ends without DISCONNECT.
	Will *Message
	// ConnectTimeout bounds TCP, TLS and CONNACK together; zero means
	// DefaultConnectTimeout. The context passed to Dial may end it sooner.
	ConnectTimeout time.Duration
	// Now returns the time server certificates are verified at, and whether that
	// clock can be believed. When it cannot, the time is a floor (e.g. the build
	// date) and a certificate whose validity starts after the floor is accepted by
	// verifying at its own start; expiry before the floor still fails. Nil means
	// the wall clock, trusted.
	Now func() (time.Time, bool)
	// Logger gets connection events; nil means zap.NewNop().
	Logger *zap.Logger
	// Observe, if set, is called synchronously for every Event; it must be quick and
	// safe for concurrent use.
	Observe func(Event)

	// dialTCP replaces net.Dialer in tests.
	dialTCP func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)
	// wrapConn wraps the TLS connection (plaintext MQTT side) in tests.
	wrapConn func(net.Conn) net.Conn
}

func (cfg *DialConfig) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if cfg.ServerName == "" {
		return bad("ServerName is empty")
	}
	if len(cfg.Addrs) == 0 {
		return bad("no addresses to dial for %s", cfg.ServerName)
	}
	for _, a := range cfg.Addrs {
		if !a.IsValid() || a.Port() == 0 {
			return bad("address %v is not an IP and port", a)
		}
	}
	if cfg.RootCAs == nil {
		return bad("RootCAs is nil")
	}
	if len(cfg.Certificate.Certificate) == 0 {
		return bad("client certificate is empty")
	}
	if _, ok := cfg.Certificate.PrivateKey.(crypto.Signer); !ok {
		return bad("client private key is %T, not a crypto.Signer", cfg.Certificate.PrivateKey)
	}
	if err := ValidClientID(cfg.ClientID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.KeepAlive != 0 && (cfg.KeepAlive < MinKeepAlive || cfg.KeepAlive > MaxKeepAlive) {
		return bad("keep-alive %v outside AWS's %v to %v", cfg.KeepAlive, MinKeepAlive, MaxKeepAlive)
	}
	if cfg.ConnectTimeout < 0 {
		return bad("negative connect timeout")
	}
	if w := cfg.Will; w != nil {
		if err := validPublish(w.Topic, w.QoS, w.Payload); err != nil {
			return fmt.Errorf("%w: will: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

// ValidClientID applies AWS IoT's client ID rules.
func ValidClientID(id string) error {
	switch {
	case id == "":
		return errors.New("client id is empty")
	case len(id) > MaxClientIDBytes:
		return fmt.Errorf("client id of %d bytes: at most %d", len(id), MaxClientIDBytes)
	case id[0] == '$':
		return fmt.Errorf("client id %q: the $ prefix is reserved", id)
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return fmt.Errorf("client id %q: not valid UTF-8 without NUL", id)
	}
	return nil
}

// validPublish checks what AWS IoT would refuse by closing the connection.
func validPublish(topic string, qos byte, payload []byte) error {
	switch {
	case topic == "":
		return errors.New("empty topic")
	case strings.ContainsAny(topic, "+#\x00"):
		return fmt.Errorf("topic %q: wildcards and NUL are not allowed in a topic name", topic)
	case !utf8.ValidString(topic):
		return fmt.Errorf("topic %q: not valid UTF-8", topic)
	case qos > 1:
		return fmt.Errorf("qos %d: AWS IoT supports 0 and 1", qos)
	case len(payload) > MaxPayload:
		return fmt.Errorf("%d bytes to %s: %w", len(payload), topic, ErrPayloadTooLarge)
	}
	return nil
}

// tlsConfig is the client side of mutual TLS for one port. Verification stays with
// crypto/tls; only the time it verifies at can move (see DialConfig.Now).
func (cfg *DialConfig) tlsConfig(port uint16, at time.Time) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ServerName:   cfg.ServerName,
		RootCAs:      cfg.RootCAs,
		Certificates: []tls.Certificate{cfg.Certificate},
	}
	if !at.IsZero() {
		c.Time = func() time.Time { return at }
	}
	if port == 443 {
		c.NextProtos = []string{alpnMQTT}
	}
	return c
}

// dialTLS opens TCP and completes the TLS handshake to one address, both bounded by ctx.
func (cfg *DialConfig) dialTLS(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	now, trusted := time.Time{}, true
	if cfg.Now != nil {
		now, trusted = cfg.Now()
	}
	conn, err := cfg.handshake(ctx, addr, now)
	if err == nil || trusted {
		return conn, err
	}
	// The clock is only a floor. If the chain failed only for starting after it, try
	// once more at the latest start in the chain; crypto/tls still checks everything.
	at, ok := retryTime(err, now)
	if !ok {
		return nil, err
	}
	return cfg.handshake(ctx, addr, at)
}

func (cfg *DialConfig) handshake(ctx context.Context, addr netip.AddrPort, at time.Time) (net.Conn, error) {
	raw, err := cfg.tcp(ctx, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, cfg.tlsConfig(addr.Port(), at))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("tls handshake as %s: %w", cfg.ServerName, err)
	}
	return tc, nil
}

func (cfg *DialConfig) tcp(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if cfg.dialTCP != nil {
		return cfg.dialTCP(ctx, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr.String())
}

// retryTime returns the verification time to retry at when a handshake failed
// because a certificate is not yet valid at floor.
func retryTime(err error, floor time.Time) (time.Time, bool) {
	var ve *tls.CertificateVerificationError
	var ie x509.CertificateInvalidError
	if !errors.As(err, &ve) || !errors.As(err, &ie) || ie.Reason != x509.Expired {
		return time.Time{}, false
	}
	at := floor
	for _, c := range ve.UnverifiedCertificates {
		if c.NotBefore.After(at) {
			at = c.NotBefore
		}
	}
	if !at.After(floor) {
		return time.Time{}, false // expired, not early: retrying would not help
	}
	return at, true
}

type attemptFunc func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)

// raceDial connects to addrs in order, starting the next attempt when the previous
// one fails or after delay, whichever comes first (RFC 8305 §5). The first attempt
// to connect wins; the others are cancelled and any late connection is closed.
// It returns only after every attempt it started has returned.
func raceDial(ctx context.Context, addrs []netip.AddrPort, delay time.Duration, attempt attemptFunc) (net.Conn, netip.AddrPort, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn net.Conn
		addr netip.AddrPort
		err  error
	}
	results := make(chan result, len(addrs))
	var (
		errs    []error
		next    int
		running int
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	drain := func() {
		for ; running > 0; running-- {
			if r := <-results; r.conn != nil {
				_ = r.conn.Close()
			}
		}
	}
	for next < len(addrs) || running > 0 {
		var startNext <-chan time.Time
		if next < len(addrs) {
			startNext = timer.C
		}
		select {
		case <-startNext:
			addr := addrs[next]
			next++
			running++
			go func() {
				conn, err := attempt(ctx, addr)
				if err != nil {
					err = fmt.Errorf("%s: %w", addr, err)
				}
				results <- result{conn, addr, err}
			}()
			timer.Reset(delay)
		case r := <-results:
			running--
			if r.err == nil {
				cancel()
				drain()
				return r.conn, r.addr, nil
			}
			errs = append(errs, r.err)
			if next < len(addrs) {
				timer.Reset(0)
			}
		case <-ctx.Done():
			cause := context.Cause(ctx)
			cancel()
			drain()
			return nil, netip.AddrPort{}, errors.Join(append(errs, fmt.Errorf("dialing %s: %w", joinAddrs(addrs[:next]), cause))...)
		}
	}
	return nil, netip.AddrPort{}, errors.Join(errs...)
}

func joinAddrs(addrs []netip.AddrPort) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
