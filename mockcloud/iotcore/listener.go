package iotcore

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
	"go.uber.org/zap"
)

// tlsListener is a mochi listener that completes the TLS handshake under a deadline
// before mochi sees the connection, and leaves a CONNECT deadline on it, so clients
// that open a socket and go quiet cannot pile up. mochi replaces the deadline with
// the keep-alive one once CONNECT is read.
type tlsListener struct {
	id               string
	ln               net.Listener
	cfg              *tls.Config
	handshakeTimeout time.Duration
	packetTimeout    time.Duration
	connectTimeout   time.Duration
	log              *zap.Logger
	// stall, if set, says whether to hold a new connection's handshake
	// (Faults.StallHandshake) and until when.
	stall func() (bool, <-chan struct{})

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // handshakes in progress
	once   sync.Once
	// failed holds the error that ended Serve when the listener failed by
	// itself (not closed by Close); Region.Health reports it.
	failed atomic.Pointer[error]
}

var _ listeners.Listener = (*tlsListener)(nil)

// clientConn is an accepted connection carrying what the TLS handshake decided
// for the MQTT layer; the handshake sees it as ClientHelloInfo.Conn, the broker
// as the tls.Conn's NetConn.
type clientConn struct {
	net.Conn
	// closeAtConnect: this connection auto-registered its certificate and is to be
	// closed at CONNECT, without CONNACK.
	closeAtConnect atomic.Bool
}

// closeAtConnect reports whether the TLS layer marked c to be closed at CONNECT.
func closeAtConnect(c net.Conn) bool {
	tc, ok := c.(interface{ NetConn() net.Conn })
	if !ok {
		return false
	}
	cc, ok := tc.NetConn().(*clientConn)
	return ok && cc.closeAtConnect.Load()
}

func newTLSListener(id string, ln net.Listener, cfg *tls.Config, handshake, connect, packet time.Duration, log *zap.Logger) *tlsListener {
	ctx, cancel := context.WithCancel(context.Background())
	return &tlsListener{id: id, ln: ln, cfg: cfg, handshakeTimeout: handshake, connectTimeout: connect, packetTimeout: packet,
		log: log, ctx: ctx, cancel: cancel}
}

func (l *tlsListener) ID() string              { return l.id }
func (l *tlsListener) Address() string         { return l.ln.Addr().String() }
func (l *tlsListener) Protocol() string        { return "tls" }
func (l *tlsListener) Init(*slog.Logger) error { return nil } // bound by Region.Start

// Accept backoff bounds, as net/http's Server.Serve: a process out of file
// descriptors must recover once connections close, not stop accepting for good.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

func (l *tlsListener) Serve(establish listeners.EstablishFn) {
	var backoff time.Duration
	var lastLog time.Time
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			if !temporaryAcceptError(err) {
				l.failed.Store(&err)
				l.log.Error("listener failed; region no longer accepts", zap.Error(err))
				return
			}
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			// One line a second at most: a flood of EMFILE must not flood the log.
			if now := time.Now(); now.Sub(lastLog) >= time.Second {
				lastLog = now
				l.log.Warn("accept failed; retrying", zap.Duration("backoff", backoff), zap.Error(err))
			}
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		l.wg.Add(1)
		if l.stall != nil {
			if held, release := l.stall(); held {
				go l.hold(conn, release)
				continue
			}
		}
		go func() {
			defer l.wg.Done()
			tc, ok := l.handshake(conn)
			if !ok {
				return
			}
			if l.ctx.Err() != nil { // closed while this handshake ran
				_ = tc.Close()
				return
			}
			pc := newPacketConn(tc, l.packetTimeout)
			_ = pc.SetDeadline(time.Now().Add(l.connectTimeout))
			err := establish(l.id, pc)
			close(pc.done)
			if err != nil {
				l.log.Debug("client connection ended", zap.String("remote", conn.RemoteAddr().String()), zap.Error(err))
			}
		}()
	}
}

// hold keeps conn open and silent: whatever the client sends (its ClientHello)
// is read and dropped, until the client hangs up, release closes or the listener
// closes. Done counts down l.wg.
func (l *tlsListener) hold(conn net.Conn, release <-chan struct{}) {
	defer l.wg.Done()
	l.log.Info("fault: holding a TLS handshake unanswered", zap.String("remote", conn.RemoteAddr().String()))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-release:
		case <-l.ctx.Done():
		case <-stop:
		}
		_ = conn.Close()
	}()
	_, _ = io.Copy(io.Discard, conn)
	_ = conn.Close()
}

func (l *tlsListener) handshake(conn net.Conn) (*tls.Conn, bool) {
	tc := tls.Server(&clientConn{Conn: conn}, l.cfg)
	ctx, cancel := context.WithTimeout(l.ctx, l.handshakeTimeout)
	defer cancel()
	_ = conn.SetDeadline(time.Now().Add(l.handshakeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		l.log.Debug("TLS handshake failed", zap.String("remote", conn.RemoteAddr().String()), zap.Error(err))
		_ = conn.Close()
		return nil, false
	}
	return tc, true
}

// Close stops accepting, closes mochi's clients on this listener and waits for
// handshakes and client goroutines started here.
func (l *tlsListener) Close(closeClients listeners.CloseFn) {
	l.once.Do(func() {
		l.cancel()
		_ = l.ln.Close()
		closeClients(l.id)
	})
	l.wg.Wait()
}
