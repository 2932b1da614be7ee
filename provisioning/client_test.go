package provisioning

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// replyFunc scripts a fake service: for a request it returns the reply topic and
// payload to send; an empty topic sends nothing, hangup drops the connection.
type replyFunc func(request string, payload []byte) (topic string, reply []byte, hangup bool)

// scriptedService accepts the CONNECT and SUBSCRIBE, acknowledges requests and
// answers them as script says.
func scriptedService(script replyFunc) serveFunc {
	return func(conn net.Conn, _ *packets.ConnectPacket) {
		if writeConnack(conn, packets.Accepted) != nil {
			return
		}
		var id uint16
		for {
			p, err := packets.ReadPacket(conn)
			if err != nil {
				return
			}
			switch p := p.(type) {
			case *packets.SubscribePacket:
				sa := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
				sa.MessageID = p.MessageID
				sa.ReturnCodes = make([]byte, len(p.Topics))
				_ = sa.Write(conn)
			case *packets.PublishPacket:
				if p.Qos == 1 {
					pa := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
					pa.MessageID = p.MessageID
					_ = pa.Write(conn)
				}
				topic, reply, hangup := script(p.TopicName, p.Payload)
				if hangup {
					return
				}
				if topic == "" {
					continue
				}
				id++
				pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
				pub.TopicName, pub.Payload, pub.Qos, pub.MessageID = topic, reply, 1, id
				_ = pub.Write(conn)
			case *packets.DisconnectPacket:
				return
			}
		}
	}
}

func mustMarshal(t *testing.T, f Format, v any) []byte {
	t.Helper()
	b, err := Marshal(f, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClientReplyErrors(t *testing.T) {
	env := newFakeEnv(t)
	keysTopic := CreateKeysTopic(FormatJSON)
	good := CreateKeysAndCertificateResponse{CertificateID: "id", CertificatePEM: "pem", PrivateKey: "key", CertificateOwnershipToken: "tok"}
	noKey := good
	noKey.PrivateKey = ""
	huge := append([]byte(`{"certificateId":"`), []byte(strings.Repeat("a", MaxPayload))...)
	huge = append(huge, `"}`...)
	tests := []struct {
		name    string
		topic   string
		reply   []byte
		hangup  bool
		wantIs  error
		wantMsg string
	}{
		{"oversize accepted", keysTopic.Reply(Accepted), huge, false, ErrPayloadTooLarge, "CreateKeysAndCertificate accepted reply"},
		{"malformed json", keysTopic.Reply(Accepted), []byte(`{"certificateId":`), false, nil, "decode json payload"},
		{"missing private key", keysTopic.Reply(Accepted), mustMarshal(t, FormatJSON, noKey), false, ErrMalformedReply, "privateKey"},
		{"statusCode as string", keysTopic.Reply(Rejected), []byte(`{"statusCode":"400","errorCode":"X"}`), false, nil, "statusCode"},
		{"no reply", "", nil, false, context.DeadlineExceeded, "waiting for the reply"},
		{"hangup", "", nil, true, ErrConnectionLost, "waiting for the reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startFakeBroker(t, env.ca, env.server, scriptedService(func(string, []byte) (string, []byte, bool) {
				return tt.topic, tt.reply, tt.hangup
			}))
			conn, err := Dial(testCtx(t), env.dialConfig(b.addr))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			if tt.topic != "" || tt.hangup {
				ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
			}
			defer cancel()
			resp, err := NewClient(conn, FormatJSON, nil).CreateKeysAndCertificate(ctx)
			if err == nil {
				t.Fatalf("got %v, want an error", resp)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantMsg)
			}
			if _, ok := AsRejected(err); ok {
				t.Errorf("err = %v is a RejectedError", err)
			}
		})
	}
}

// TestClientRoutesByTopic: replies on other topics, or nobody's, are dropped and
// logged; the waiting call gets the reply on its own topic.
func TestClientRoutesByTopic(t *testing.T) {
	env := newFakeEnv(t)
	var mu sync.Mutex
	step := 0
	csrTopic := CreateFromCSRTopic(FormatCBOR)
	accepted := mustMarshal(t, FormatCBOR, CreateCertificateFromCSRResponse{
		CertificateID: "id", CertificatePEM: "pem", CertificateOwnershipToken: "tok",
	})
	b := startFakeBroker(t, env.ca, env.server, scriptedService(func(req string, _ []byte) (string, []byte, bool) {
		mu.Lock()
		defer mu.Unlock()
		step++
		if step == 1 { // a reply for an operation nobody called
			return CreateKeysTopic(FormatCBOR).Reply(Accepted), []byte{0xa0}, false
		}
		return csrTopic.Reply(Accepted), accepted, false
	}))
	conn, err := Dial(testCtx(t), env.dialConfig(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	core, logs := observer.New(zapcore.DebugLevel)
	c := NewClient(conn, FormatCBOR, zap.New(core))
	if err := c.Prepare(testCtx(t), "", OpCreateKeysAndCertificate, OpCreateCertificateFromCSR); err != nil {
		t.Fatal(err)
	}
	// First request: its reply goes to the wrong operation and is dropped, so the
	// call times out.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.CreateCertificateFromCSR(ctx, "csr"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	resp, err := c.CreateCertificateFromCSR(testCtx(t), "csr")
	if err != nil {
		t.Fatal(err)
	}
	if resp.CertificateID != "id" {
		t.Errorf("response %v", resp)
	}
	if n := logs.FilterMessage("reply nobody waits for dropped").Len(); n != 1 {
		t.Errorf("%d dropped replies logged, want 1", n)
	}
	// A message on a topic that is no reply at all reaches route only through a
	// broad subscription; it is dropped too.
	c.route("some/other/topic", []byte("x"))
	if n := logs.FilterMessage("message on a topic that is not a provisioning reply dropped").Len(); n != 1 {
		t.Errorf("%d foreign messages logged, want 1", n)
	}
}

func TestClientRejectsBadInput(t *testing.T) {
	env := newFakeEnv(t)
	b := startFakeBroker(t, env.ca, env.server, scriptedService(func(string, []byte) (string, []byte, bool) { return "", nil, false }))
	conn, err := Dial(testCtx(t), env.dialConfig(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := testCtx(t)
	c := NewClient(conn, "", nil)
	for name, err := range map[string]error{
		"bad template":     c.Prepare(ctx, "bad template", OpRegisterThing),
		"empty template":   c.Prepare(ctx, ""),
		"unknown op":       c.Prepare(ctx, "t", Operation("DeleteThing")),
		"register bad tpl": second(c.RegisterThing(ctx, "a/b", RegisterThingRequest{})),
		"empty csr":        second(c.CreateCertificateFromCSR(ctx, " \n")),
		"bad format":       second(NewClient(conn, Format("xml"), nil).CreateKeysAndCertificate(ctx)),
	} {
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
	if c.format != FormatJSON {
		t.Errorf("default format %q, want json", c.format)
	}
}

func second[T any](_ T, err error) error { return err }
