package provisioning

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// replyQoS is the QoS of the reply subscriptions, as the AWS IoT Device Client uses.
const replyQoS = 1

// Client speaks the fleet provisioning MQTT API over one Conn.
//
// The API has no correlation token, so a reply is matched to a request by its topic
// alone: calls of the same operation (same request topic) run one at a time, and a
// reply nobody waits for is logged and dropped. One consequence cannot be avoided:
// if a call gives up (its context ends) and the next call of that operation starts
// before the late reply arrives, the next call receives the late reply, and its own
// is dropped. For CreateKeysAndCertificate and CreateCertificateFromCsr both replies
// are valid credentials, so this costs only an orphaned certificate that the
// service deletes when its token expires.
type Client struct {
	conn   *Conn
	format Format
	log    *zap.Logger

	subscribing chan struct{} // one SUBSCRIBE at a time, so a filter is sent once

	mu         sync.Mutex
	subscribed map[string]bool          // reply filters acknowledged by SUBACK
	waiting    map[string]chan reply    // request topic → the call waiting for its reply
	turns      map[string]chan struct{} // request topic → one call at a time
}

type reply struct {
	outcome Outcome
	payload []byte
}

// NewClient returns a Client that encodes requests in format f ("" means JSON).
// The Client does not own conn: closing it is the caller's job.
func NewClient(conn *Conn, f Format, logger *zap.Logger) *Client {
	if f == "" {
		f = FormatJSON
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Client{
		conn:        conn,
		format:      f,
		log:         logger,
		subscribing: make(chan struct{}, 1),
		subscribed:  make(map[string]bool),
		waiting:     make(map[string]chan reply),
		turns:       make(map[string]chan struct{}),
	}
}

// Prepare subscribes, in a single SUBSCRIBE packet with QoS 1, to the accepted and
// rejected topics of ops (all three operations when ops is empty; template is
// needed only for RegisterThing). Filters already subscribed are not sent again.
// Calling it before the first request is what AWS asks for; a call whose filters
// were not prepared subscribes to them itself, in a packet of its own.
func (c *Client) Prepare(ctx context.Context, template string, ops ...Operation) error {
	if len(ops) == 0 {
		ops = []Operation{OpCreateKeysAndCertificate, OpCreateCertificateFromCSR, OpRegisterThing}
	}
	topics := make([]Topic, 0, len(ops))
	for _, op := range ops {
		t, err := c.topic(op, template)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		topics = append(topics, t)
	}
	return c.subscribe(ctx, topics...)
}

func (c *Client) topic(op Operation, template string) (Topic, error) {
	if _, err := ParseFormat(string(c.format)); err != nil {
		return Topic{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	switch op {
	case OpCreateKeysAndCertificate:
		return CreateKeysTopic(c.format), nil
	case OpCreateCertificateFromCSR:
		return CreateFromCSRTopic(c.format), nil
	case OpRegisterThing:
		if err := ValidTemplateName(template); err != nil {
			return Topic{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		return RegisterThingTopic(template, c.format), nil
	}
	return Topic{}, fmt.Errorf("%w: unknown operation %q", ErrInvalidConfig, op)
}

func (c *Client) subscribe(ctx context.Context, topics ...Topic) error {
	select {
	case c.subscribing <- struct{}{}:
		defer func() { <-c.subscribing }()
	case <-ctx.Done():
		return fmt.Errorf("subscribe to replies: %w", context.Cause(ctx))
	case <-c.conn.Done():
		return fmt.Errorf("subscribe to replies: %w", c.conn.Err())
	}
	filters := make(map[string]byte)
	c.mu.Lock()
	for _, t := range topics {
		for _, r := range t.Replies() {
			if !c.subscribed[r] {
				filters[r] = replyQoS
			}
		}
	}
	c.mu.Unlock()
	if len(filters) == 0 {
		return nil
	}
	if err := c.conn.Subscribe(ctx, filters, c.route); err != nil {
		return err
	}
	c.mu.Lock()
	for f := range filters {
		c.subscribed[f] = true
	}
	c.mu.Unlock()
	return nil
}

// route hands a reply to the call waiting on its request topic.
func (c *Client) route(topic string, payload []byte) {
	t, outcome, ok := ParseTopic(topic)
	if !ok || outcome == "" {
		c.log.Warn("message on a topic that is not a provisioning reply dropped", zap.String("topic", topic), zap.Int("bytes", len(payload)))
		return
	}
	key := t.Request()
	c.mu.Lock()
	ch := c.waiting[key]
	delete(c.waiting, key)
	c.mu.Unlock()
	if ch == nil {
		c.log.Warn("reply nobody waits for dropped", zap.String("topic", topic), zap.Int("bytes", len(payload)))
		return
	}
	ch <- reply{outcome: outcome, payload: payload} // buffered, and sent to once
}

// call publishes one request and waits for its reply, decoding an accepted one
// into resp.
func (c *Client) call(ctx context.Context, t Topic, payload []byte, resp any) error {
	key := t.Request()
	c.mu.Lock()
	turn := c.turns[key]
	if turn == nil {
		turn = make(chan struct{}, 1)
		c.turns[key] = turn
	}
	c.mu.Unlock()
	select {
	case turn <- struct{}{}:
		defer func() { <-turn }()
	case <-ctx.Done():
		return fmt.Errorf("waiting for an earlier %s call: %w", t.Op, context.Cause(ctx))
	case <-c.conn.Done():
		return c.conn.Err()
	}

	if err := c.subscribe(ctx, t); err != nil {
		return err
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	c.waiting[key] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.waiting[key] == ch {
			delete(c.waiting, key)
		}
		c.mu.Unlock()
	}()

	start := time.Now()
	err := c.roundTrip(ctx, t, payload, ch, resp)
	c.conn.emit(Event{Kind: EventRoundTrip, Addr: c.conn.addr, Op: t.Op, Topics: []string{key}, Bytes: len(payload), Duration: time.Since(start), Err: err})
	return err
}

func (c *Client) roundTrip(ctx context.Context, t Topic, payload []byte, ch <-chan reply, resp any) error {
	c.log.Debug("request", zap.String("op", string(t.Op)), zap.String("topic", t.Request()), zap.Int("bytes", len(payload)))
	if err := c.conn.Publish(ctx, t.Request(), 1, false, payload); err != nil {
		return err
	}
	select {
	case r := <-ch:
		c.log.Debug("reply", zap.String("op", string(t.Op)), zap.String("outcome", string(r.outcome)), zap.Int("bytes", len(r.payload)))
		return DecodeReply(t, r.outcome, r.payload, resp)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the reply on %s/{accepted,rejected}: %w", t.Request(), context.Cause(ctx))
	case <-c.conn.Done():
		return fmt.Errorf("waiting for the reply on %s/{accepted,rejected}: %w", t.Request(), c.conn.Err())
	}
}

// CreateKeysAndCertificate asks the service for a new key pair and certificate.
// The request body is CreateKeysPayload(format).
func (c *Client) CreateKeysAndCertificate(ctx context.Context) (*CreateKeysAndCertificateResponse, error) {
	t, err := c.topic(OpCreateKeysAndCertificate, "")
	if err != nil {
		return nil, fmt.Errorf("create keys and certificate: %w", err)
	}
	var resp CreateKeysAndCertificateResponse
	if err := c.call(ctx, t, CreateKeysPayload(c.format), &resp); err != nil {
		return nil, fmt.Errorf("create keys and certificate: %w", err)
	}
	if err := missing(map[string]bool{
		"certificateId":             resp.CertificateID == "",
		"certificatePem":            resp.CertificatePEM == "",
		"privateKey":                resp.PrivateKey == "",
		"certificateOwnershipToken": resp.CertificateOwnershipToken == "",
	}); err != nil {
		return nil, fmt.Errorf("create keys and certificate: %w", err)
	}
	return &resp, nil
}

// CreateCertificateFromCSR asks the service to sign csrPEM.
func (c *Client) CreateCertificateFromCSR(ctx context.Context, csrPEM string) (*CreateCertificateFromCSRResponse, error) {
	t, err := c.topic(OpCreateCertificateFromCSR, "")
	if err != nil {
		return nil, fmt.Errorf("create certificate from csr: %w", err)
	}
	if strings.TrimSpace(csrPEM) == "" {
		return nil, fmt.Errorf("create certificate from csr: %w: empty CSR", ErrInvalidConfig)
	}
	payload, err := Marshal(c.format, CreateCertificateFromCSRRequest{CertificateSigningRequest: csrPEM})
	if err != nil {
		return nil, fmt.Errorf("create certificate from csr: %w", err)
	}
	var resp CreateCertificateFromCSRResponse
	if err := c.call(ctx, t, payload, &resp); err != nil {
		return nil, fmt.Errorf("create certificate from csr: %w", err)
	}
	if err := missing(map[string]bool{
		"certificateId":             resp.CertificateID == "",
		"certificatePem":            resp.CertificatePEM == "",
		"certificateOwnershipToken": resp.CertificateOwnershipToken == "",
	}); err != nil {
		return nil, fmt.Errorf("create certificate from csr: %w", err)
	}
	return &resp, nil
}

// RegisterThing runs template with req. An empty thingName in the accepted reply is
// returned as is: it means the template has no thing resource, which the caller
// judges.
func (c *Client) RegisterThing(ctx context.Context, template string, req RegisterThingRequest) (*RegisterThingResponse, error) {
	t, err := c.topic(OpRegisterThing, template)
	if err != nil {
		return nil, fmt.Errorf("register thing with template %q: %w", template, err)
	}
	payload, err := Marshal(c.format, req)
	if err != nil {
		return nil, fmt.Errorf("register thing with template %q: %w", template, err)
	}
	var resp RegisterThingResponse
	if err := c.call(ctx, t, payload, &resp); err != nil {
		return nil, fmt.Errorf("register thing with template %q: %w", template, err)
	}
	return &resp, nil
}

// missing names the empty fields of an accepted reply (names only: values may be secret).
func missing(empty map[string]bool) error {
	var names []string
	for _, n := range []string{"certificateId", "certificatePem", "privateKey", "certificateOwnershipToken"} {
		if empty[n] {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%w: accepted reply without %s", ErrMalformedReply, strings.Join(names, ", "))
}
