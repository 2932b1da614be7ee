package provisioning

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// fakeBroker is a TLS listener on loopback that speaks just enough MQTT for one
// test: it records the ClientHello and the CONNECT, then hands the connection to
// serve.
type fakeBroker struct {
	addr netip.AddrPort

	mu       sync.Mutex
	hellos   []*tls.ClientHelloInfo
	connects []*packets.ConnectPacket
	conns    []net.Conn

	ln net.Listener
	wg sync.WaitGroup
}

type serveFunc func(conn net.Conn, cp *packets.ConnectPacket)

func startFakeBroker(t *testing.T, ca *testCA, server issued, serve serveFunc) *fakeBroker {
	t.Helper()
	b := &fakeBroker{}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{server.tls},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
		MinVersion:   tls.VersionTLS12,
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			b.mu.Lock()
			b.hellos = append(b.hellos, h)
			b.mu.Unlock()
			return nil, nil
		},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.ln = ln
	b.addr = netip.MustParseAddrPort(ln.Addr().String())
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, conn)
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer conn.Close()
				p, err := packets.ReadPacket(conn)
				if err != nil {
					return
				}
				cp, ok := p.(*packets.ConnectPacket)
				if !ok {
					return
				}
				b.mu.Lock()
				b.connects = append(b.connects, cp)
				b.mu.Unlock()
				serve(conn, cp)
			}()
		}
	}()
	t.Cleanup(b.stop)
	return b
}

func (b *fakeBroker) stop() {
	_ = b.ln.Close()
	b.dropAll()
	b.wg.Wait()
}

// dropAll closes every accepted connection without DISCONNECT.
func (b *fakeBroker) dropAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
}

func (b *fakeBroker) journal() ([]*tls.ClientHelloInfo, []*packets.ConnectPacket) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*tls.ClientHelloInfo(nil), b.hellos...), append([]*packets.ConnectPacket(nil), b.connects...)
}

func writeConnack(conn net.Conn, code byte) error {
	ca := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	ca.ReturnCode = code
	return ca.Write(conn)
}

// acceptAndAnswer accepts the CONNECT, answers SUBSCRIBE with subackCodes (0x00
// per filter when nil) and PUBLISH QoS 1 with PUBACK, until the client leaves.
// Received packets go to seen when it is not nil.
func acceptAndAnswer(subackCode byte, seen chan<- packets.ControlPacket) serveFunc {
	return func(conn net.Conn, _ *packets.ConnectPacket) {
		if writeConnack(conn, packets.Accepted) != nil {
			return
		}
		for {
			p, err := packets.ReadPacket(conn)
			if err != nil {
				return
			}
			if seen != nil {
				seen <- p
			}
			switch p := p.(type) {
			case *packets.SubscribePacket:
				sa := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
				sa.MessageID = p.MessageID
				for range p.Topics {
					sa.ReturnCodes = append(sa.ReturnCodes, subackCode)
				}
				_ = sa.Write(conn)
			case *packets.PublishPacket:
				if p.Qos == 1 {
					pa := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
					pa.MessageID = p.MessageID
					_ = pa.Write(conn)
				}
			case *packets.PingreqPacket:
				_ = packets.NewControlPacket(packets.Pingresp).Write(conn)
			case *packets.DisconnectPacket:
				return
			}
		}
	}
}

// fakeEnv is a CA, a server certificate for the global name and a client identity.
type fakeEnv struct {
	ca     *testCA
	server issued
	client issued
}

func newFakeEnv(t *testing.T) fakeEnv {
	ca := newTestCA(t, "fake root")
	return fakeEnv{
		ca:     ca,
		server: ca.issue(t, leafOpts{cn: globalName, dnsNames: []string{globalName}, server: true}),
		client: ca.issue(t, leafOpts{cn: "claim"}),
	}
}

func (e fakeEnv) dialConfig(addrs ...netip.AddrPort) DialConfig {
	return DialConfig{
		ServerName:     globalName,
		Addrs:          addrs,
		RootCAs:        e.ca.pool,
		Certificate:    e.client.tls,
		ClientID:       "gw-test",
		ConnectTimeout: 10 * time.Second,
	}
}

// waitDone waits for the connection to end, failing the test after a generous bound.
func waitDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var errBlackholed = errors.New("blackholed")
