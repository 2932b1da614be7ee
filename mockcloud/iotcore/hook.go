package iotcore

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/policy"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// AWS IoT's MQTT limits (PROTOCOL.md §0).
const (
	maxClientIDBytes = 128
	minKeepalive     = 30
	maxKeepalive     = 1200
)

// session is what the broker knows about one connection.
type session struct {
	principal
	version byte

	mu sync.Mutex
	// pendingSub holds the iot:Subscribe decisions of the SUBSCRIBE being processed.
	// mochi asks one ACL question for a subscription and for a delivery; while a
	// SUBSCRIBE is in flight its filters answer from here, every other question is
	// an iot:Receive check. (A delivery racing that SUBSCRIBE on a topic spelled
	// exactly like one of its filters would see the Subscribe decision.)
	pendingSub map[string]bool
	// ended is set, under mu, once the connection is closed or taken over: from
	// then on no provisioning reply is readied for it (holdReply).
	ended bool
}

func (s *session) pending(topic string) (allowed, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	allowed, ok = s.pendingSub[topic]
	return allowed, ok
}

func (s *session) setPending(m map[string]bool) {
	s.mu.Lock()
	s.pendingSub = m
	s.mu.Unlock()
}

// holdReply readies the provisioning reply out for the connection cl: a QoS 1
// reply gets a packet id and waits in cl's in-flight messages for its PUBACK.
// It reports false once the connection has ended (brokerHook.endReplies), and
// then out must not be written.
func (s *session) holdReply(cl *mqtt.Client, out *packets.Packet) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false, nil
	}
	if out.FixedHeader.Qos > 0 {
		id, err := cl.NextPacketID()
		if err != nil {
			return false, fmt.Errorf("reply to %s: %w", cl.ID, err)
		}
		out.PacketID = uint16(id)
		cl.State.Inflight.Set(*out)
	}
	return true, nil
}

// brokerHook puts AWS IoT's authentication, authorization and MQTT differences on
// mochi, and hands fleet provisioning requests to the region.
type brokerHook struct {
	mqtt.HookBase
	r *Region

	mu       sync.Mutex
	sessions map[*mqtt.Client]*session
}

func (h *brokerHook) ID() string { return "iotcore" }

func (h *brokerHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnSessionEstablish, mqtt.OnDisconnect,
		mqtt.OnPacketRead, mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnACLCheck, mqtt.OnPublish,
	}, []byte{b})
}

func (h *brokerHook) session(cl *mqtt.Client) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[cl]
}

// OnConnect authenticates (the TLS layer already refused unknown or inactive
// certificates) and authorizes iot:Connect. A refusal returns an error, which
// makes mochi close the connection; refuse says whether a CONNACK goes first.
func (h *brokerHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	log := h.r.log.With(zap.String("client_id", pk.Connect.ClientIdentifier))
	leaf, ok := peerCertificate(cl.Net.Conn)
	if !ok {
		return fmt.Errorf("connect %q: no client certificate", pk.Connect.ClientIdentifier)
	}
	p := principal{certID: registry.CertificateID(leaf.Raw), clientID: pk.Connect.ClientIdentifier}
	if closeAtConnect(cl.Net.Conn) {
		// No CONNACK: the device sees the connection close, as after AWS's JITP/JITR.
		log.Info("closing the connection that auto-registered its certificate", zap.String("certificate_id", p.certID))
		return fmt.Errorf("connect %q: certificate %s was just registered: %w", p.clientID, p.certID, errFirstConnection)
	}
	if len(p.clientID) > maxClientIDBytes {
		log.Info("CONNECT refused: client id longer than 128 bytes")
		return h.refuse(cl, packets.ErrClientIdentifierNotValid)
	}
	if strings.HasPrefix(p.clientID, "$") {
		log.Info("CONNECT refused: client ids starting with $ are reserved")
		return h.refuse(cl, packets.ErrClientIdentifierNotValid)
	}
	// A thing's policy variables resolve only when the client id is the name of a
	// thing attached to the certificate, as AWS derives the thing from the client id.
	things, err := h.r.reg.ThingsForCertificate(p.certID)
	if err != nil {
		log.Warn("read certificate things", zap.Error(err))
	}
	if slices.Contains(things, p.clientID) {
		p.thingName = p.clientID
	}
	attrs := policy.ConnectFlags{ProtocolVersion: pk.ProtocolVersion, Clean: pk.Connect.Clean,
		SessionExpiry: pk.Properties.SessionExpiryInterval, Will: pk.Connect.WillFlag}.Attributes()
	if !h.r.authz.canConnect(p, attrs) {
		log.Info("CONNECT denied by policy", zap.String("certificate_id", p.certID), zap.Stringer("connect_attributes", attrs))
		return h.refuse(cl, packets.ErrNotAuthorized)
	}
	if pk.Connect.WillFlag {
		switch will := pk.Connect.WillTopic; {
		case strings.HasPrefix(will, "$") || !h.r.authz.canPublish(p, will):
			log.Info("CONNECT denied: will topic not allowed", zap.String("topic", will))
			return h.refuse(cl, packets.ErrNotAuthorized)
		case pk.Connect.WillRetain && !h.r.authz.canRetainPublish(p, will):
			log.Info("CONNECT denied: retained will needs iot:RetainPublish on its topic", zap.String("topic", will))
			return h.refuse(cl, packets.ErrNotAuthorized)
		}
	}
	// AWS: 0 or above 1200 becomes 1200, 1-29 becomes 30.
	ka := pk.Connect.Keepalive
	switch {
	case ka == 0 || ka > maxKeepalive:
		ka = maxKeepalive
	case ka < minKeepalive:
		ka = minKeepalive
	}
	if ka != pk.Connect.Keepalive {
		cl.State.Keepalive = ka
		cl.State.ServerKeepalive = true // MQTT 5 clients are told in CONNACK
	}
	h.mu.Lock()
	h.sessions[cl] = &session{principal: p, version: pk.ProtocolVersion}
	h.mu.Unlock()
	return nil
}

// refuse ends a CONNECT the region does not accept: an MQTT 3.1.1 connection is
// closed without CONNACK, as AWS does, unless Config.ConnackOnRefusal; an MQTT 5
// client is told the reason code first.
func (h *brokerHook) refuse(cl *mqtt.Client, code packets.Code) error {
	if cl.Properties.ProtocolVersion < 5 {
		if !h.r.cfg.ConnackOnRefusal {
			return fmt.Errorf("connect refused (%#x), closed without CONNACK: %w", code.Code, code)
		}
		switch code {
		case packets.ErrNotAuthorized:
			code = packets.Err3NotAuthorized
		case packets.ErrClientIdentifierNotValid:
			code = packets.Err3ClientIdentifierNotValid
		}
	}
	if err := h.r.broker.SendConnack(cl, code, false, nil); err != nil {
		return fmt.Errorf("refuse connect: %w", err)
	}
	return fmt.Errorf("connect refused with CONNACK %#x: %w", code.Code, code)
}

// OnConnectAuthenticate lets through what OnConnect accepted.
func (h *brokerHook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return h.session(cl) != nil
}

// teardownWait bounds the wait for the previous connection of a client id to be
// torn down; it takes microseconds.
const teardownWait = 5 * time.Second

// OnSessionEstablish runs before mochi hands an existing session of the client
// id (its subscriptions and unacknowledged messages) to the new connection. The
// connection that had it ends here for provisioning replies, and is closed and
// torn down before the new one goes on: mochi removes a clean session's client
// id from its client list and its filters from the topic index once its
// connection has ended, and if that came after the new connection took their
// place, the new connection would be left out of both.
func (h *brokerHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	old, ok := h.r.broker.Clients.Get(pk.Connect.ClientIdentifier)
	if !ok || old == cl {
		return
	}
	h.endReplies(old)
	pc, ok := old.Net.Conn.(*packetConn)
	if !ok {
		return
	}
	if !old.Closed() {
		_ = h.r.broker.DisconnectClient(old, packets.ErrSessionTakenOver) // as mochi would next
	}
	select {
	case <-pc.done:
	case <-time.After(teardownWait):
		h.r.log.Warn("previous connection of the client id not torn down in time; taking over anyway",
			zap.String("client_id", cl.ID), zap.Duration("waited", teardownWait))
	}
}

func (h *brokerHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.endReplies(cl)
	h.mu.Lock()
	delete(h.sessions, cl)
	h.mu.Unlock()
}

// endReplies makes cl's provisioning replies die with it: no reply is written to
// it any more, and the unacknowledged ones leave its in-flight messages, so a
// later connection resuming the session is never sent one (they carry private
// keys and ownership tokens for the connection that asked).
func (h *brokerHook) endReplies(cl *mqtt.Client) {
	if s := h.session(cl); s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ended = true
	}
	for _, pk := range cl.State.Inflight.GetAll(false) {
		if _, outcome, ok := provisioning.ParseTopic(pk.TopicName); ok && outcome != "" {
			cl.State.Inflight.Delete(pk.PacketID)
		}
	}
}

// OnPacketRead applies AWS's rules before mochi processes a packet. Returning
// ErrRejectPacket makes mochi close the connection.
func (h *brokerHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := h.session(cl)
	if s == nil {
		return pk, nil // the CONNECT itself
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		return pk, h.checkPublish(cl, s, pk)
	case packets.Subscribe:
		return pk, h.checkSubscribe(cl, s, pk)
	}
	return pk, nil
}

func (h *brokerHook) checkPublish(cl *mqtt.Client, s *session, pk packets.Packet) error {
	topic := pk.TopicName
	switch {
	case len(pk.Payload) > provisioning.MaxPayload:
		return h.drop(cl, s, "payload larger than 128 KiB", topic, packets.ErrPacketTooLarge)
	case pk.FixedHeader.Qos > 1:
		// AWS does not support QoS 2 and sends no PUBACK/PUBREC; closing is the only
		// answer that does not leave the client waiting forever.
		return h.drop(cl, s, "QoS 2 not supported", topic, packets.ErrQosNotSupported)
	case strings.HasPrefix(topic, "$"):
		_, outcome, request := provisioning.ParseTopic(topic)
		switch {
		case request && outcome != "":
			return h.drop(cl, s, "publish to a provisioning reply topic", topic, packets.ErrNotAuthorized)
		case !request && !serviceTopic(topic):
			return h.drop(cl, s, "publish to reserved topic", topic, packets.ErrNotAuthorized)
		case pk.FixedHeader.Retain:
			// AWS: "You can't publish to a reserved topic with the RETAIN flag set."
			return h.drop(cl, s, "retained publish to reserved topic", topic, packets.ErrNotAuthorized)
		}
	}
	if !h.r.cfg.ReasonCodes && !h.r.authz.canPublish(s.principal, topic) {
		return h.drop(cl, s, "PUBLISH denied by policy", topic, packets.ErrNotAuthorized)
	}
	// With ReasonCodes an MQTT 5 client, and a QoS 0 PUBLISH, are answered by
	// OnPublish as mochi answers a denied iot:Publish; a 3.1.1 QoS 1 PUBLISH has no
	// failure PUBACK and closes the connection here.
	if pk.FixedHeader.Retain && (!h.r.cfg.ReasonCodes || s.version < 5 && pk.FixedHeader.Qos > 0) &&
		!h.r.authz.canRetainPublish(s.principal, topic) {
		return h.drop(cl, s, "retained PUBLISH denied by policy: no iot:RetainPublish", topic, packets.ErrNotAuthorized)
	}
	return nil // with ReasonCodes, OnACLCheck decides iot:Publish and mochi answers
}

func (h *brokerHook) checkSubscribe(cl *mqtt.Client, s *session, pk packets.Packet) error {
	decisions := make(map[string]bool, len(pk.Filters))
	for _, f := range pk.Filters {
		if strings.HasPrefix(f.Filter, "$") && !strings.HasPrefix(f.Filter, "$aws/") {
			return h.drop(cl, s, "subscribe to reserved topic", f.Filter, packets.ErrNotAuthorized)
		}
		ok := h.r.authz.canSubscribe(s.principal, f.Filter)
		if !ok && !h.r.cfg.ReasonCodes {
			return h.drop(cl, s, "SUBSCRIBE denied by policy", f.Filter, packets.ErrNotAuthorized)
		}
		decisions[f.Filter] = ok
	}
	s.setPending(decisions)
	return nil
}

// drop closes the connection; an MQTT 5 client is told why first.
func (h *brokerHook) drop(cl *mqtt.Client, s *session, why, topic string, code packets.Code) error {
	h.r.log.Info("closing connection: "+why, zap.String("client_id", s.clientID), zap.String("topic", topic))
	if s.version == 5 {
		_ = cl.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
			ReasonCode:  code.Code,
		})
	}
	return fmt.Errorf("%s: %w", why, packets.ErrRejectPacket)
}

// OnSubscribe keeps retained messages from wildcard filters: AWS sends a
// retained message on SUBSCRIBE only to a filter equal to its topic (mqtt.md,
// "MQTT retained messages"). Retain handling 2 ("do not send") is how mochi is
// told; it matters at SUBSCRIBE time only.
func (h *brokerHook) OnSubscribe(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	for i := range pk.Filters {
		if wildcardFilter(pk.Filters[i].Filter) {
			pk.Filters[i].RetainHandling = 2
		}
	}
	return pk
}

func (h *brokerHook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	if s := h.session(cl); s != nil {
		s.setPending(nil)
	}
}

// OnACLCheck answers mochi's three questions: publish (write), subscribe and
// delivery (both !write; told apart by the pending SUBSCRIBE).
func (h *brokerHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := h.session(cl)
	if s == nil {
		return false
	}
	if write {
		return h.r.authz.canPublish(s.principal, topic)
	}
	if allowed, ok := s.pending(topic); ok {
		return allowed
	}
	// mochi's index delivers "a" to "a/#"; AWS does not.
	if !awsSubscribed(cl, topic) {
		return false
	}
	// A delivery iot:Receive does not allow is dropped without telling anyone.
	return h.r.authz.canReceive(s.principal, topic)
}

// awsSubscribed reports whether one of cl's filters matches topic as AWS matches.
func awsSubscribed(cl *mqtt.Client, topic string) bool {
	for _, sub := range cl.State.Subscriptions.GetAll() {
		if awsFilterMatches(sub.Filter, topic) {
			return true
		}
	}
	return false
}

// OnPublish takes fleet provisioning requests out of the broker: the region answers
// them and no subscriber ever sees them; a PUBLISH to another AWS service topic is
// dropped too. CodeSuccessIgnore still lets mochi PUBACK.
func (h *brokerHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Retain && h.r.cfg.ReasonCodes {
		if s := h.session(cl); s != nil && !h.r.authz.canRetainPublish(s.principal, pk.TopicName) {
			h.r.log.Info("retained PUBLISH denied by policy: no iot:RetainPublish", zap.String("client_id", s.clientID), zap.String("topic", pk.TopicName))
			if s.version == 5 && pk.FixedHeader.Qos > 0 {
				return pk, packets.ErrNotAuthorized // mochi answers PUBACK 0x87
			}
			return pk, packets.ErrRejectPacket // dropped, as mochi drops a denied QoS 0 PUBLISH
		}
	}
	t, outcome, ok := provisioning.ParseTopic(pk.TopicName)
	if !ok || outcome != "" {
		if !cl.Net.Inline && serviceTopic(pk.TopicName) {
			h.r.log.Info("PUBLISH to an AWS service topic the mock does not implement: accepted and dropped",
				zap.String("client_id", cl.ID), zap.String("topic", pk.TopicName))
			return pk, packets.CodeSuccessIgnore
		}
		return pk, nil
	}
	s := h.session(cl)
	if s == nil {
		return pk, packets.ErrRejectPacket
	}
	h.r.dispatch(cl, s.principal, t, pk.Payload)
	return pk, packets.CodeSuccessIgnore
}

// clientsByCertificate returns the live connections grouped by certificate id.
func (h *brokerHook) clientsByCertificate() map[string][]*mqtt.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]*mqtt.Client)
	for cl, s := range h.sessions {
		out[s.certID] = append(out[s.certID], cl)
	}
	return out
}

// disconnect closes cl because its certificate is no longer accepted; an MQTT 5
// client is told "not authorized" first.
func (h *brokerHook) disconnect(cl *mqtt.Client, certID, status string) {
	h.r.log.Info("closing connection: certificate no longer ACTIVE", zap.String("client_id", cl.ID),
		zap.String("certificate_id", certID), zap.String("status", status))
	if cl.Properties.ProtocolVersion == 5 {
		_ = cl.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
			ReasonCode:  packets.ErrNotAuthorized.Code,
		})
	}
	cl.Stop(fmt.Errorf("%w: certificate %s is %s", ErrCertificateRejected, certID, status))
}
