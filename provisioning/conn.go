package provisioning

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
)

const (
	// maxFiltersPerSubscribe is AWS IoT's limit on filters in one SUBSCRIBE packet.
	maxFiltersPerSubscribe = 8
	// closeQuiesce is how long Close lets DISCONNECT and in-flight work drain.
	closeQuiesce = 250 // milliseconds, as paho takes it
)

// Conn is one MQTT 3.1.1 connection over mutual TLS, used both for the claim
// (provisioning) session and for the device's permanent one. It never reconnects:
// when the connection ends Done is closed and the caller decides what to do next.
// All methods are safe for concurrent use.
type Conn struct {
	client  mqtt.Client
	log     *zap.Logger
	observe func(Event)
	addr    netip.AddrPort

	closeOnce sync.Once
	done      chan struct{}
	mu        sync.Mutex // guards err
	err       error
}

// Dial connects to the first of cfg.Addrs that completes TCP and TLS (Happy
// Eyeballs) and returns after the broker accepted the CONNECT. A CONNACK with a
// non-zero code is returned as a *ConnectRefusedError; everything else that fails
// (DNS-free dialing, TLS verification, timeouts) keeps its cause wrapped.
//
// The session is always clean (CleanSession=1) and paho's auto-reconnect and
// connect-retry are off; messages are delivered to handlers without ordering
// guarantees, as AWS IoT gives none.
func Dial(ctx context.Context, cfg DialConfig) (*Conn, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	keepAlive := cfg.KeepAlive
	if keepAlive == 0 {
		keepAlive = DefaultKeepAlive
	}
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c := &Conn{log: log, observe: cfg.Observe, done: make(chan struct{})}
	start := time.Now()
	var (
		mu      sync.Mutex // guards the three below, written by paho's connect goroutine
		dialErr error
		won     netip.AddrPort
		unwatch func() bool
		watch   *connectWatch
	)
	open := func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
		conn, addr, err := raceDial(ctx, cfg.Addrs, attemptDelay, func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
			t0 := time.Now()
			conn, err := cfg.dialTLS(ctx, addr)
			c.emit(Event{Kind: EventDialAttempt, Addr: addr, Duration: time.Since(t0), Err: err})
			if err != nil {
				log.Debug("dial attempt failed", zap.Stringer("broker", addr), zap.Error(err))
			}
			return conn, err
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			dialErr = err
			return nil, err
		}
		if cfg.wrapConn != nil {
			conn = cfg.wrapConn(conn)
		}
		watch = &connectWatch{Conn: conn}
		conn = watch
		// paho bounds the MQTT handshake by its own timer only; the context must
		// end it too.
		won, unwatch = addr, context.AfterFunc(ctx, func() { _ = conn.Close() })
		// Written here, before paho starts the workers that may call lost.
		c.addr = addr
		return conn, nil
	}

	opts := mqtt.NewClientOptions().
		AddBroker(brokerURL(cfg)).
		SetClientID(cfg.ClientID).
		SetProtocolVersion(4). // explicit: no silent fallback to 3.1 on a refused CONNACK
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetOrderMatters(false).
		SetKeepAlive(keepAlive).
		// ctx bounds the handshake; paho's own CONNACK timer is only a backstop,
		// later than ctx so that a timeout reads as context.DeadlineExceeded.
		SetConnectTimeout(timeout + time.Second).
		SetCustomOpenConnectionFn(open).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { c.lost(err) })
	if w := cfg.Will; w != nil {
		opts.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retain)
	}
	c.client = mqtt.NewClient(opts)
	tok := c.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		<-tok.Done() // the dial and the watched conn both end with ctx
	}

	mu.Lock()
	addr, derr, stop, w := won, dialErr, unwatch, watch
	mu.Unlock()
	closedByCtx := stop != nil && !stop()
	if err := tok.Error(); err != nil || closedByCtx {
		if err == nil {
			c.client.Disconnect(closeQuiesce)
		}
		err = connectError(ctx, tok, err, derr)
		if w != nil && !closedByCtx && ctx.Err() == nil {
			if r := w.refusal(cfg.Will); r != nil {
				err = r
			}
		}
		return nil, fmt.Errorf("connect to %s as %q: %w", cfg.ServerName, cfg.ClientID, err)
	}
	d := time.Since(start)
	c.emit(Event{Kind: EventConnected, Addr: addr, Duration: d})
	log.Info("connected", zap.String("server_name", cfg.ServerName), zap.Stringer("broker", addr),
		zap.String("client_id", cfg.ClientID), zap.Duration("duration", d))
	return c, nil
}

func connectError(ctx context.Context, tok mqtt.Token, err, dialErr error) error {
	if dialErr != nil {
		return dialErr
	}
	if ct, ok := tok.(*mqtt.ConnectToken); ok {
		if rc := ct.ReturnCode(); rc >= 1 && rc <= 5 {
			return &ConnectRefusedError{Code: rc}
		}
	}
	if ctx.Err() != nil {
		if err != nil {
			return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
		return context.Cause(ctx)
	}
	return err
}

// brokerURL is what paho is told; the connection itself comes from raceDial, so
// the URL only has to parse and to name the server in paho's own messages.
func brokerURL(cfg DialConfig) string {
	return "tls://" + net.JoinHostPort(cfg.ServerName, strconv.Itoa(int(cfg.Addrs[0].Port())))
}

// RemoteAddr is the address that won the dial race.
func (c *Conn) RemoteAddr() netip.AddrPort { return c.addr }

// Done is closed when the connection ends: lost or closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is nil while the connection is up; then ErrClosed after Close, or an error
// wrapping ErrConnectionLost and the cause.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close sends DISCONNECT (so the broker drops the Will) and ends the connection.
// It may be called more than once.
func (c *Conn) Close() {
	c.finish(ErrClosed)
	c.closeOnce.Do(func() { c.client.Disconnect(closeQuiesce) })
}

func (c *Conn) finish(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false
	}
	c.err = err
	close(c.done)
	return true
}

// lost reports the loss before Done closes, so whoever wakes on Done sees the event.
func (c *Conn) lost(cause error) {
	if c.Err() != nil {
		return // closed by the caller: paho does not report that, but be sure
	}
	c.log.Warn("connection lost", zap.Stringer("broker", c.addr), zap.Error(cause))
	c.emit(Event{Kind: EventConnectionLost, Addr: c.addr, Err: cause})
	c.finish(fmt.Errorf("%w: %w", ErrConnectionLost, cause))
}

func (c *Conn) emit(e Event) {
	if c.observe != nil {
		c.observe(e)
	}
}

// wait waits for a paho token, the context, or the end of the connection.
func (c *Conn) wait(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			if cerr := c.Err(); cerr != nil {
				return cerr
			}
			return err
		}
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-c.done:
		return c.Err()
	}
}

// Publish sends one message. With QoS 1 it returns after PUBACK. If ctx ends first
// the message may still be delivered.
func (c *Conn) Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	if err := validPublish(topic, qos, payload); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := c.Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	start := time.Now()
	err := c.wait(ctx, c.client.Publish(topic, qos, retain, payload))
	c.emit(Event{Kind: EventPublish, Addr: c.addr, Topics: []string{topic}, Bytes: len(payload), Duration: time.Since(start), Err: err})
	if err != nil {
		return fmt.Errorf("publish %d bytes to %s: %w", len(payload), topic, err)
	}
	return nil
}

// Subscribe sends one SUBSCRIBE packet for all filters (filter → QoS 0 or 1; at most
// 8, AWS's per-packet limit) and returns after SUBACK. A filter the broker refused
// gives an error wrapping ErrSubscribeRefused. handler runs on its own goroutine per
// message, in no particular order, and must be safe for concurrent use.
func (c *Conn) Subscribe(ctx context.Context, filters map[string]byte, handler func(topic string, payload []byte)) error {
	topics := slices.Sorted(maps.Keys(filters))
	if err := validFilters(filters); err != nil {
		return fmt.Errorf("subscribe %s: %w", strings.Join(topics, ", "), err)
	}
	if handler == nil {
		return fmt.Errorf("subscribe %s: %w: nil handler", strings.Join(topics, ", "), ErrInvalidConfig)
	}
	if err := c.Err(); err != nil {
		return fmt.Errorf("subscribe %s: %w", strings.Join(topics, ", "), err)
	}
	cb := func(_ mqtt.Client, m mqtt.Message) {
		c.emit(Event{Kind: EventMessage, Addr: c.addr, Topics: []string{m.Topic()}, Bytes: len(m.Payload())})
		handler(m.Topic(), m.Payload())
	}
	start := time.Now()
	tok := c.client.SubscribeMultiple(filters, cb)
	err := c.wait(ctx, tok)
	if err == nil {
		err = subackError(tok)
	}
	c.emit(Event{Kind: EventSubscribe, Addr: c.addr, Topics: topics, Duration: time.Since(start), Err: err})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", strings.Join(topics, ", "), err)
	}
	c.log.Debug("subscribed", zap.Strings("topics", topics))
	return nil
}

func subackError(tok mqtt.Token) error {
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	var refused []string
	for f, rc := range st.Result() {
		if rc == 0x80 {
			refused = append(refused, f)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	slices.Sort(refused)
	return fmt.Errorf("%w: %s", ErrSubscribeRefused, strings.Join(refused, ", "))
}

func validFilters(filters map[string]byte) error {
	if len(filters) == 0 || len(filters) > maxFiltersPerSubscribe {
		return fmt.Errorf("%w: %d filters, want 1 to %d", ErrInvalidConfig, len(filters), maxFiltersPerSubscribe)
	}
	for f, qos := range filters {
		if qos > 1 {
			return fmt.Errorf("%w: filter %q: qos %d, AWS IoT supports 0 and 1", ErrInvalidConfig, f, qos)
		}
		if err := validFilter(f); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

// validFilter applies MQTT 3.1.1 §4.7.1: '#' only as the whole last level, '+' only
// as a whole level.
func validFilter(f string) error {
	if f == "" || !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
		return fmt.Errorf("filter %q: empty, NUL or not UTF-8", f)
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("filter %q: '#' must be the whole last level", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("filter %q: '+' must be a whole level", f)
		}
	}
	return nil
}
