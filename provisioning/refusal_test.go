package provisioning

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// How each way a broker can end a Dial is typed: AWS answers a CONNECT its policy
// denies by closing the connection (MQTT 3.1.1), and an unknown or inactive
// certificate with a TLS alert; a TCP failure is neither.
func TestDialRefusalKinds(t *testing.T) {
	env := newFakeEnv(t)
	stranger := newTestCA(t, "other root").issue(t, leafOpts{cn: "unknown"})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := netip.MustParseAddrPort(closed.Addr().String())
	closed.Close() // nothing listens here now: TCP refused

	will := &Message{Topic: "gw/status", Payload: []byte("offline"), QoS: 1, Retain: true}
	for _, tc := range []struct {
		name      string
		serve     serveFunc
		cert      *issued
		will      *Message
		tcpOnly   bool
		wantClose bool // *ConnectClosedError
		wantAlert bool // CertificateAlert
		wantCode  byte // *ConnectRefusedError
	}{
		{name: "closed after CONNECT", serve: func(net.Conn, *packets.ConnectPacket) {}, wantClose: true},
		{name: "closed after CONNECT with a Will", serve: func(net.Conn, *packets.ConnectPacket) {}, will: will, wantClose: true},
		{name: "CONNACK 5", serve: func(c net.Conn, _ *packets.ConnectPacket) { _ = writeConnack(c, 5) }, wantCode: 5},
		{name: "certificate of an unknown CA", serve: func(net.Conn, *packets.ConnectPacket) {}, cert: &stranger, wantAlert: true},
		{name: "TCP refused", tcpOnly: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := closedAddr
			if !tc.tcpOnly {
				addr = startFakeBroker(t, env.ca, env.server, tc.serve).addr
			}
			cfg := env.dialConfig(addr)
			cfg.Will = tc.will
			if tc.cert != nil {
				cfg.Certificate = tc.cert.tls
			}
			c, err := Dial(testCtx(t), cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			var cc *ConnectClosedError
			if got := errors.As(err, &cc); got != tc.wantClose {
				t.Errorf("ConnectClosedError: %v, want %v (%v)", got, tc.wantClose, err)
			}
			if tc.wantClose && tc.will != nil && (cc.Will == nil || cc.Will.Topic != tc.will.Topic) {
				t.Errorf("ConnectClosedError.Will = %+v, want the CONNECT's Will", cc.Will)
			}
			if _, got := CertificateAlert(err); got != tc.wantAlert {
				t.Errorf("CertificateAlert: %v, want %v (%v)", got, tc.wantAlert, err)
			}
			var cr *ConnectRefusedError
			if got := errors.As(err, &cr); got != (tc.wantCode != 0) || (got && cr.Code != tc.wantCode) {
				t.Errorf("ConnectRefusedError: %v (%v), want code %d", got, err, tc.wantCode)
			}
		})
	}
}

func TestCertificateAlertNames(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "remote error", Err: tls.AlertError(42)}, true},
		{errors.New("tls: bad certificate"), false},
		{&net.OpError{Op: "read", Err: errors.New("tls: bad certificate")}, false},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, true},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: revoked certificate")}, true},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: unknown certificate")}, true},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}, false},
	} {
		if _, got := CertificateAlert(tc.err); got != tc.want {
			t.Errorf("CertificateAlert(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
