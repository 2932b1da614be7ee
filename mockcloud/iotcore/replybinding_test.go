package iotcore_test

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetboot/fleetboot/provisioning"
)

// persistentClient is a paho MQTT 3.1.1 client with a persistent session (clean
// session 0) whose every incoming PUBLISH, subscribed or resent from the
// session, lands in msgs in the order it arrived. With ack false it never
// acknowledges a QoS 1 PUBLISH.
type persistentClient struct {
	paho.Client
	msgs chan message
}

func (rg *rig) dialPersistent(id identity, clientID string, ack bool) *persistentClient {
	rg.t.Helper()
	c := &persistentClient{msgs: make(chan message, 64)}
	record := func(_ paho.Client, m paho.Message) {
		c.msgs <- message{topic: m.Topic(), payload: m.Payload()}
	}
	opts := paho.NewClientOptions().
		AddBroker("tls://" + rg.region.Addr().String()).
		SetClientID(clientID).
		SetTLSConfig(rg.tlsConfig(id, dialOpt{})).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).
		SetKeepAlive(60 * time.Second).
		SetOrderMatters(true). // handlers run one after the other, in arrival order
		SetAutoAckDisabled(!ack).
		SetDefaultPublishHandler(record)
	c.Client = paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		rg.t.Fatalf("connect %s: %v", clientID, tok.Error())
	}
	rg.t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// createKeys subscribes to CreateKeysAndCertificate's replies and asks once.
func (c *persistentClient) createKeys(t *testing.T) {
	t.Helper()
	topic := provisioning.CreateKeysTopic(provisioning.FormatJSON)
	if tok := c.Subscribe(topic.Reply(provisioning.Accepted), 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := c.Publish(topic.Request(), 1, false, []byte("{}")); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish request: %v", tok.Error())
	}
}

// nextKeys waits for the next CreateKeysAndCertificate reply c receives.
func (c *persistentClient) nextKeys(t *testing.T) provisioning.CreateKeysAndCertificateResponse {
	t.Helper()
	m, ok := receive(t, c.msgs, 20*time.Second)
	if !ok {
		t.Fatal("no CreateKeysAndCertificate reply")
	}
	var r provisioning.CreateKeysAndCertificateResponse
	unmarshal(t, provisioning.FormatJSON, m.payload, &r)
	if r.CertificateID == "" || r.PrivateKey == "" {
		t.Fatalf("reply on %s without certificate or key: %s", m.topic, truncate(m.payload))
	}
	return r
}

// A CreateKeysAndCertificate reply, private key included, goes to the connection
// that asked and to no other: not to the next connection with the same client
// id resuming the persistent session, even while the reply is unacknowledged.
func TestProvisioningReplyStaysWithItsConnection(t *testing.T) {
	for _, tc := range []struct {
		name      string
		closeBack bool // the first connection ends before the second connects
	}{
		{"second connection takes over", false},
		{"second connection after the first closed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rg := newRig(t)
			first := rg.dialPersistent(rg.claim, "twin", false)
			first.createKeys(t)
			mine := first.nextKeys(t) // received, never acknowledged
			if tc.closeBack {
				first.Disconnect(0)
			}

			second := rg.dialPersistent(rg.claim, "twin", true)
			if !second.IsConnectionOpen() {
				t.Fatal("second connection closed")
			}
			// A PUBLISH resent from the session arrives right after CONNACK,
			// before any answer to the second connection's own request; the
			// first reply this connection gets must be its own.
			second.createKeys(t)
			got := second.nextKeys(t)
			if got.CertificateID == mine.CertificateID {
				t.Fatalf("the second connection received the first one's reply (certificate %s, with its private key)", mine.CertificateID)
			}
		})
	}
}
