package iotcore

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"go.uber.org/zap"
)

// ALPNMQTTCA is the ALPN protocol AWS IoT clients offer for MQTT with X.509 auth on 443.
const ALPNMQTTCA = "x-amzn-mqtt-ca"

// Config describes one mock AWS IoT Core region.
type Config struct {
	Region         string // e.g. eu-west-1
	AccountID      string // 12 digits in ARNs
	EndpointPrefix string // ATS name <EndpointPrefix>-ats.iot.<Region>.amazonaws.com

	// Addr is the listen address, loopback only ("127.0.0.12:8883", "127.0.0.1:0",
	// "[::1]:0"); anything else is refused.
	Addr string
	// WrapListener, if set, wraps the bound TCP listener, below TLS: mockcloud adds
	// network latency this way (mockcloud/netem).
	WrapListener func(net.Listener) net.Listener
	// CustomDomains are domain configurations' names (e.g. global.iot.example.com).
	// Each gets its own server certificate, chosen by SNI like the ATS name's.
	CustomDomains []string
	// CA issues the server certificates and every device certificate the region creates.
	CA *pki.CA
	// DataDir holds registry.db.
	DataDir string

	// AllowMissingSNI and AllowUnknownSNI accept clients that send no SNI or a name
	// that is not this region's; such clients get the ATS certificate. AWS documents
	// both as refused (PROTOCOL.md §3.3), the default here.
	AllowMissingSNI, AllowUnknownSNI bool
	// RequireALPN makes a port-443-style listener: clients must offer x-amzn-mqtt-ca.
	RequireALPN bool
	// ReasonCodes answers a denied SUBSCRIBE with SUBACK 0x80 (3.1.1) / 0x87 (5) and a
	// denied QoS 1 PUBLISH from an MQTT 5 client with PUBACK 0x87, instead of closing
	// the connection, which is what AWS is reported to do (PROTOCOL.md §3.5). MQTT
	// 3.1.1 has no PUBACK failure code, so a denied 3.1.1 PUBLISH always disconnects.
	ReasonCodes bool
	// ConnackOnRefusal answers a CONNECT the region refuses from an MQTT 3.1.1
	// client (iot:Connect denied, a Will topic the policy does not allow, a client
	// id it does not accept) with CONNACK 5 "not authorized" or 2 "identifier
	// rejected" before closing. By default such a connection is closed without
	// CONNACK: "AWS IoT returns the error code 7 instead of the CONNACK error code 5
	// when a connection is refused because the client isn't authorized to connect"
	// (AWS IoT Developer Guide, mqtt.md, "AWS IoT differences from MQTT version
	// 3.1.1"; PROTOCOL.md §7.2), and the mock refuses every CONNECT that way. An
	// MQTT 5 client gets a CONNACK with the reason code (0x87 not authorized, 0x85
	// client identifier not valid) either way, as the MQTT reason code table of
	// the same guide lists 0x87 for CONNACK. CONNECTs that break the MQTT
	// specification itself are answered by mochi as the specification says.
	ConnackOnRefusal bool

	// JITPKeepFirstConnection lets the connection that auto-registered its
	// certificate go on to CONNACK when the JITP template made the certificate
	// ACTIVE. By default that connection is closed at its CONNECT without a CONNACK
	// and the device must reconnect, as users of AWS consistently observe although
	// AWS does not document it (PROTOCOL.md §2.2 [obs]). A certificate left
	// PENDING_ACTIVATION (JITR, failed template) always has its connection closed.
	JITPKeepFirstConnection bool
	// CertificateRegistered, if set, is called after each auto-registration with
	// the event the region published, on the connecting client's handshake
	// goroutine: keep it short.
	CertificateRegistered func(CertificateRegisteredEvent)

	// Clock drives ownership token expiry. nil: time.Now.
	Clock func() time.Time
	// KeyPoolSize RSA-2048 keys are generated ahead, in the background, for
	// CreateKeysAndCertificate. 0 disables the pool: every request generates inline.
	KeyPoolSize int
	// TokenLifetime of certificate ownership tokens; 0: one hour, as AWS.
	TokenLifetime time.Duration
	// RegisterThingReplay answers a RegisterThing that repeats an applied one (same
	// ownership token, template and parameters, before the token expires) with the
	// same accepted reply, as if the first reply had been lost. AWS documents the
	// token as proof of ownership but not whether a second use is refused
	// (PROTOCOL.md §1.6, unconfirmed); the default, false, refuses it.
	RegisterThingReplay bool
	// SweepInterval between sweeps of expired tokens (on Clock's time); 0: one minute.
	SweepInterval time.Duration
	// HandshakeTimeout bounds the TLS handshake, ConnectTimeout the wait for CONNECT
	// after it; 0: 10 s each.
	HandshakeTimeout, ConnectTimeout time.Duration
	// PacketTimeout bounds the rest of an MQTT packet once its first byte arrived,
	// so that a client cannot hold a large packet's buffer with a few bytes of
	// header until its keep-alive runs out. AWS documents no such bound; 30 s lets
	// a 128 KiB payload through at 5 KiB/s; 0: 30 s.
	PacketTimeout time.Duration
	// SessionCheckInterval is how often connections are checked against their
	// certificate's status, so that a certificate made INACTIVE or REVOKED other
	// than through Region.SetCertificateStatus (which acts at once) loses its
	// connections too, as on AWS; 0: 10 s.
	SessionCheckInterval time.Duration
	// Faults to inject from the start; Region.SetFaults changes them later.
	Faults Faults
	// Logger; nil: no logging.
	Logger *zap.Logger
}

const (
	defaultTokenLifetime = time.Hour
	defaultSweepInterval = time.Minute
	defaultTimeout       = 10 * time.Second
	defaultSessionCheck  = 10 * time.Second
	defaultPacketTimeout = 30 * time.Second
)

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = defaultTokenLifetime
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = defaultSweepInterval
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = defaultTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultTimeout
	}
	if c.PacketTimeout <= 0 {
		c.PacketTimeout = defaultPacketTimeout
	}
	if c.SessionCheckInterval <= 0 {
		c.SessionCheckInterval = defaultSessionCheck
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

func (c *Config) validate() error {
	switch {
	case c.Region == "":
		return fmt.Errorf("%w: Region is empty", ErrConfig)
	case c.AccountID == "":
		return fmt.Errorf("%w: AccountID is empty", ErrConfig)
	case c.EndpointPrefix == "":
		return fmt.Errorf("%w: EndpointPrefix is empty", ErrConfig)
	case c.CA == nil:
		return fmt.Errorf("%w: CA is nil", ErrConfig)
	case c.DataDir == "":
		return fmt.Errorf("%w: DataDir is empty", ErrConfig)
	case c.KeyPoolSize < 0:
		return fmt.Errorf("%w: KeyPoolSize %d", ErrConfig, c.KeyPoolSize)
	}
	if _, err := loopbackAddr(c.Addr); err != nil {
		return err
	}
	for _, d := range c.CustomDomains {
		if d == "" || strings.ContainsAny(d, " /:") {
			return fmt.Errorf("%w: custom domain %q", ErrConfig, d)
		}
	}
	return nil
}

func loopbackAddr(addr string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: Addr %q: %w", ErrConfig, addr, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("listen on %s: %w", addr, ErrNotLoopback)
	}
	return ap, nil
}

// endpoint is the ATS data endpoint name.
func (c *Config) endpoint() string {
	return c.EndpointPrefix + "-ats.iot." + c.Region + ".amazonaws.com"
}
