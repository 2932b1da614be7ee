package iotcore

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/fleetboot/fleetboot/provisioning"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// errFault ends a connection on purpose (Faults).
var errFault = errors.New("injected fault")

// faultHook injects the connection-level Faults. It is added before brokerHook,
// so it sees each CONNECT and packet first, as a network or a throttling front
// end would.
type faultHook struct {
	mqtt.HookBase
	r *Region
}

func (h *faultHook) ID() string { return "iotcore-faults" }

func (h *faultHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect, mqtt.OnPacketRead}, []byte{b})
}

// OnConnect applies the per-client-id connect rate and DropAtConnect. Returning
// an error makes mochi close the connection without CONNACK.
func (h *faultHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	id := pk.Connect.ClientIdentifier
	log := h.r.log.With(zap.String("client_id", id))
	if !h.r.faults.connectAllowed(id, time.Now()) {
		log.Info("CONNECT throttled: too soon after the last CONNECT with this client id")
		if pk.ProtocolVersion == 5 {
			_ = h.r.broker.SendConnack(cl, packets.ErrConnectionRateExceeded, false, nil)
		}
		return fmt.Errorf("connect %q: %w: %w", id, errFault, packets.ErrConnectionRateExceeded)
	}
	if h.r.faults.dropAt(DropAtConnect, "") {
		log.Info("fault: dropping the connection at CONNECT")
		return fmt.Errorf("connect %q: %w: dropped at CONNECT", id, errFault)
	}
	return nil
}

// OnPacketRead applies DropAtSubscribe and DropAtRequest. ErrRejectPacket makes
// mochi close the connection before it answers the packet.
func (h *faultHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch pk.FixedHeader.Type {
	case packets.Subscribe:
		if h.r.faults.dropAt(DropAtSubscribe, "") {
			h.r.log.Info("fault: dropping the connection at SUBSCRIBE", zap.String("client_id", cl.ID))
			return pk, fmt.Errorf("%w: dropped at SUBSCRIBE: %w", errFault, packets.ErrRejectPacket)
		}
	case packets.Publish:
		t, outcome, ok := provisioning.ParseTopic(pk.TopicName)
		if ok && outcome == "" && h.r.faults.dropAt(DropAtRequest, t.Op) {
			h.r.log.Info("fault: dropping the connection at a provisioning request", zap.String("client_id", cl.ID), zap.String("op", string(t.Op)))
			return pk, fmt.Errorf("%w: dropped at %s: %w", errFault, t.Op, packets.ErrRejectPacket)
		}
	}
	return pk, nil
}
