package iotcore_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
)

// mqtt311 pins MQTT 3.1.1, as devices do: paho otherwise retries a failed
// CONNECT as MQTT 3.1 at once, which would count as a second attempt.
var mqtt311 = dialOpt{version: 4}

// pendingCertificates counts the certificates the region issued and nobody
// activated yet.
func pendingCertificates(t testing.TB, reg *registry.Store) int {
	t.Helper()
	certs, err := reg.ListCertificates("")
	must(t, err)
	n := 0
	for _, c := range certs {
		if c.Status == registry.StatusPendingActivation {
			n++
		}
	}
	return n
}

// csrRequest publishes one CreateCertificateFromCsr on c, subscribed beforehand, and
// returns the channel its replies arrive on.
func csrRequest(t *testing.T, c *client) chan message {
	t.Helper()
	topic := provisioning.CreateFromCSRTopic(provisioning.FormatJSON)
	ch, err := c.subscribe(t, topic.Replies()...)
	must(t, err)
	csrPEM, _ := newCSR(t)
	must(t, c.publish(t, topic.Request(), 1, marshal(t, provisioning.FormatJSON,
		provisioning.CreateCertificateFromCSRRequest{CertificateSigningRequest: string(csrPEM)})))
	return ch
}

func TestFaultReplies(t *testing.T) {
	csr := []provisioning.Operation{provisioning.OpCreateCertificateFromCSR}
	for _, tc := range []struct {
		name   string
		faults iotcore.Faults
		// replies is how many replies the request gets; applied whether the
		// service issued a certificate.
		replies  int
		applied  bool
		rejected int // status code of a rejected reply, 0: accepted
		count    func(iotcore.FaultCounts) int
	}{
		{"lost", iotcore.Faults{LoseReply: &iotcore.Match{Ops: csr, Times: 1}}, 0, true, 0,
			func(c iotcore.FaultCounts) int { return c.RepliesLost }},
		{"duplicated", iotcore.Faults{DuplicateReply: &iotcore.Match{Times: 1}}, 2, true, 0,
			func(c iotcore.FaultCounts) int { return c.RepliesDuplicated }},
		{"throttled 429", iotcore.Faults{Throttle: &iotcore.Throttle{Match: iotcore.Match{Ops: csr}}}, 1, false, 429,
			func(c iotcore.FaultCounts) int { return c.RequestsThrottled }},
		{"throttled 400", iotcore.Faults{Throttle: &iotcore.Throttle{StatusCode: 400}}, 1, false, 400,
			func(c iotcore.FaultCounts) int { return c.RequestsThrottled }},
		{"other operation untouched", iotcore.Faults{LoseReply: &iotcore.Match{Ops: []provisioning.Operation{provisioning.OpRegisterThing}}}, 1, true, 0,
			func(c iotcore.FaultCounts) int { return 1 - c.RepliesLost }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rg := newRig(t, func(c *iotcore.Config) { c.Faults = tc.faults })
			c := rg.mustDial(rg.claim, "claim")
			ch := csrRequest(t, c)
			// The first reply may take a while on a busy machine; once it is
			// there, a copy follows at once.
			got := 0
			var last message
			for wait := 10 * time.Second; ; wait = time.Second {
				if tc.replies == 0 {
					wait = time.Second
				}
				m, ok := receive(t, ch, wait)
				if !ok {
					break
				}
				got++
				last = m
			}
			if got != tc.replies {
				t.Fatalf("%d replies, want %d", got, tc.replies)
			}
			if n := pendingCertificates(t, rg.reg); (n == 1) != tc.applied || n > 1 {
				t.Fatalf("%d certificates issued; request applied: want %v", n, tc.applied)
			}
			if tc.rejected != 0 {
				var rej provisioning.ErrorResponse
				unmarshal(t, provisioning.FormatJSON, last.payload, &rej)
				_, outcome, _ := provisioning.ParseTopic(last.topic)
				if outcome != provisioning.Rejected || rej.StatusCode != tc.rejected || rej.ErrorCode != provisioning.CodeThrottling {
					t.Fatalf("reply %s %+v, want rejected %d ThrottlingException", outcome, rej, tc.rejected)
				}
			}
			if n := tc.count(rg.region.FaultCounts()); n != 1 {
				t.Fatalf("fault counted %d times, want 1 (%+v)", n, rg.region.FaultCounts())
			}
			// A fault limited to one occurrence, or cleared, leaves the next request alone.
			rg.region.SetFaults(iotcore.Faults{})
			if _, ok := receive(t, csrRequest(t, c), 5*time.Second); !ok {
				t.Fatal("no reply once the faults were cleared")
			}
		})
	}
}

// A reply held back arrives late to a connection that waits, and never to one that
// gave up.
func TestFaultDelayedReply(t *testing.T) {
	const delay = 400 * time.Millisecond
	rg := newRig(t, func(c *iotcore.Config) {
		c.Faults = iotcore.Faults{DelayReply: &iotcore.Delay{By: delay}}
	})
	patient := rg.mustDial(rg.claim, "patient")
	ch := csrRequest(t, patient)
	if _, ok := receive(t, ch, delay/4); ok {
		t.Fatal("reply arrived before its delay")
	}
	if _, ok := receive(t, ch, 10*time.Second); !ok {
		t.Fatal("delayed reply never arrived")
	}
	hasty := rg.mustDial(rg.claim, "hasty")
	csrRequest(t, hasty)
	hasty.Disconnect(0)
	again := rg.mustDial(rg.claim, "hasty")
	late, err := again.subscribe(t, provisioning.CreateFromCSRTopic(provisioning.FormatJSON).Replies()...)
	must(t, err)
	if m, ok := receive(t, late, 2*delay); ok {
		t.Fatalf("a new connection got the reply of the one that left: %s", m.topic)
	}
	if n := pendingCertificates(t, rg.reg); n != 2 {
		t.Fatalf("%d certificates issued, want 2: a late reply is still applied", n)
	}
	if c := rg.region.FaultCounts(); c.RepliesDelayed != 2 {
		t.Fatalf("counts %+v, want 2 delayed", c)
	}
}

func TestFaultDropAtEachStep(t *testing.T) {
	for _, tc := range []struct {
		at      iotcore.DropStep
		applied bool
	}{
		{iotcore.DropAtConnect, false},
		{iotcore.DropAtSubscribe, false},
		{iotcore.DropAtRequest, false},
		{iotcore.DropAfterRequest, true},
	} {
		t.Run(string(tc.at), func(t *testing.T) {
			rg := newRig(t, func(c *iotcore.Config) {
				c.Faults = iotcore.Faults{Drop: &iotcore.Drop{At: tc.at, Match: iotcore.Match{Times: 1}}}
			})
			c, err := rg.dial(rg.claim, "claim", mqtt311)
			if tc.at == iotcore.DropAtConnect {
				if err == nil {
					t.Fatal("connected through a drop at CONNECT")
				}
			} else {
				must(t, err)
				topic := provisioning.CreateFromCSRTopic(provisioning.FormatJSON)
				if tc.at == iotcore.DropAtSubscribe {
					if _, err := c.subscribe(t, topic.Replies()...); err == nil {
						t.Fatal("SUBACK through a drop at SUBSCRIBE")
					}
				} else {
					csrPEM, _ := newCSR(t)
					_, _ = c.subscribe(t, topic.Replies()...)
					_ = c.publish(t, topic.Request(), 1, marshal(t, provisioning.FormatJSON,
						provisioning.CreateCertificateFromCSRRequest{CertificateSigningRequest: string(csrPEM)}))
				}
				if !c.waitLost(5 * time.Second) {
					t.Fatal("connection not closed")
				}
			}
			if n := pendingCertificates(t, rg.reg); (n == 1) != tc.applied {
				t.Fatalf("%d certificates issued; request applied: want %v", n, tc.applied)
			}
			if n := rg.region.FaultCounts().ConnectionsDropped; n != 1 {
				t.Fatalf("%d connections dropped, want 1", n)
			}
			// Times: 1, so the next connection goes through the whole exchange.
			next := rg.mustDial(rg.claim, "claim")
			if _, ok := receive(t, csrRequest(t, next), 5*time.Second); !ok {
				t.Fatal("no reply on the connection after the drop")
			}
		})
	}
}

// A stalled handshake: the TCP connection opens, the server says nothing until the
// fault is lifted, and then hangs up.
func TestFaultStallHandshake(t *testing.T) {
	rg := newRig(t, func(c *iotcore.Config) {
		c.Faults = iotcore.Faults{StallHandshake: &iotcore.Stall{Times: 1}}
	})
	raw, err := net.Dial("tcp", rg.region.Addr().String())
	must(t, err)
	defer raw.Close()
	tc := tls.Client(raw, rg.tlsConfig(rg.claim, dialOpt{}))
	must(t, raw.SetDeadline(time.Now().Add(300*time.Millisecond)))
	var ne net.Error
	if err := tc.Handshake(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("handshake: %v, want a timeout", err)
	}
	if n := rg.region.FaultCounts().HandshakesStalled; n != 1 {
		t.Fatalf("%d handshakes stalled, want 1", n)
	}
	// Times: 1 — the next connection is served while the first is still held.
	rg.mustDial(rg.claim, "next")
	rg.region.SetFaults(iotcore.Faults{})
	must(t, raw.SetDeadline(time.Now().Add(5*time.Second)))
	if _, err := raw.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("held connection after the fault was lifted: %v, want EOF", err)
	}
}

// AWS allows one CONNECT per second per client id; the region refuses the rest.
func TestFaultConnectRatePerClientID(t *testing.T) {
	rg := newRig(t, func(c *iotcore.Config) {
		// Far above AWS's second, so the refusal below cannot depend on speed.
		c.Faults = iotcore.Faults{ClientIDConnectInterval: time.Minute}
	})
	first := rg.mustDial(rg.claim, "gw-1")
	first.Disconnect(0)
	if _, err := rg.dial(rg.claim, "gw-1", mqtt311); err == nil {
		t.Fatal("second CONNECT with the same client id within the interval accepted")
	}
	rg.mustDial(rg.claim, "gw-2") // another client id is not limited
	if n := rg.region.FaultCounts().ConnectsThrottled; n != 1 {
		t.Fatalf("%d connects throttled, want 1", n)
	}
	rg.region.SetFaults(iotcore.Faults{ClientIDConnectInterval: iotcore.ConnectIntervalAWS})
	time.Sleep(iotcore.ConnectIntervalAWS)
	rg.mustDial(rg.claim, "gw-1")
}

// A certificate made INACTIVE or REVOKED loses its live connection and cannot come
// back, as AWS does after UpdateCertificate.
func TestCertificateStatusDisconnects(t *testing.T) {
	for _, status := range []string{registry.StatusInactive, registry.StatusRevoked} {
		for _, how := range []string{"region", "registry"} {
			t.Run(status+"-via-"+how, func(t *testing.T) {
				rg := newRig(t)
				dev := rg.newDevice("ClaimPolicy", claimPolicy(), registry.StatusActive)
				c := rg.mustDial(dev, "dev")
				other := rg.mustDial(rg.claim, "other")
				if how == "region" {
					must(t, rg.region.SetCertificateStatus(dev.certID, status))
				} else {
					// As the control plane does: straight on the registry, enforced by
					// the session check.
					must(t, rg.reg.SetCertificateStatus(dev.certID, status))
					n, err := rg.region.DisconnectInactive()
					must(t, err)
					if n != 1 {
						t.Fatalf("%d connections closed, want 1", n)
					}
				}
				if !c.waitLost(5 * time.Second) {
					t.Fatal("connection of a deactivated certificate stays open")
				}
				if !other.IsConnectionOpen() {
					t.Fatal("connection of another certificate closed")
				}
				if _, err := rg.dial(dev, "dev", mqtt311); err == nil {
					t.Fatal("reconnected with a certificate that is not ACTIVE")
				}
				if n := rg.region.FaultCounts().CertificateDisconnects; n != 1 {
					t.Fatalf("%d certificate disconnects counted, want 1", n)
				}
			})
		}
	}
}
