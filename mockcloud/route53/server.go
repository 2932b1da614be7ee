package route53

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// udpReadSize is the largest query read over UDP.
const udpReadSize = dns.DefaultMsgSize

// portAttempts bounds the search for a port free for both UDP and TCP.
const portAttempts = 20

// udpSocketBuffer is the receive buffer asked for: a fleet booting at once sends
// thousands of queries in a burst, which the kernel's default (about 200 KiB)
// drops, and a dropped query costs its device a whole resolver timeout. The
// kernel caps it at net.core.rmem_max.
const udpSocketBuffer = 4 << 20

// Server is the geolocation DNS server. Build it with New, then Start it;
// ServeDNS may also be called directly. All methods are safe for
// concurrent use.
type Server struct {
	log *zap.Logger
	// cat is what queries are answered from; UpdateZones swaps it whole, so
	// a query sees the zones before or after a change, never half of one.
	cat    atomic.Pointer[catalog]
	addr0  string                              // the configured address (Config.Addr or DefaultAddr)
	wrapPC func(net.PacketConn) net.PacketConn // Config.WrapPacketConn
	wrapLn func(net.Listener) net.Listener     // Config.WrapListener

	mu     sync.Mutex // guards the fields below
	state  runState
	addr   string
	udp    *dns.Server
	tcp    *dns.Server
	served sync.WaitGroup
	// failure is the error a listener stopped with after Start succeeded.
	failure atomic.Pointer[error]

	zmu sync.Mutex // serializes zone changes; guards the fields below
	// base is the Config the server was built from; its Zones are the ones
	// served now.
	base Config
	// checks are the health checks by ID; records point at these flags.
	checks map[string]*atomic.Bool
}

// Health reports a DNS listener that stopped serving by itself; nil otherwise.
func (s *Server) Health() error {
	if err := s.failure.Load(); err != nil {
		return fmt.Errorf("dns: listener failed: %w", *err)
	}
	return nil
}

// backoffListener sleeps between temporary Accept errors: miekg/dns retries a
// Temporary error (EMFILE) at once, spinning a core while the process is out of
// file descriptors. The wait doubles from 5 ms to 1 s, as net/http's does.
type backoffListener struct {
	net.Listener
	log     *zap.Logger
	backoff time.Duration
	lastLog time.Time
}

func (l *backoffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.backoff = 0
		return c, nil
	}
	var ne net.Error
	//lint:ignore SA1019 the test miekg/dns retries on, so the wait matches its retries
	if errors.As(err, &ne) && ne.Temporary() {
		l.backoff = min(max(2*l.backoff, 5*time.Millisecond), time.Second)
		if now := time.Now(); now.Sub(l.lastLog) >= time.Second {
			l.lastLog = now
			l.log.Warn("dns tcp accept failed; retrying", zap.Duration("backoff", l.backoff), zap.Error(err))
		}
		time.Sleep(l.backoff)
	}
	return nil, err
}

type runState string

const (
	stateNew     runState = "new"
	stateStarted runState = "started"
	stateClosed  runState = "closed"
)

// New validates cfg and builds the server's indexes; it does not listen.
// A nil logger logs nothing.
func New(cfg Config, logger *zap.Logger) (*Server, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	cat, err := compile(cfg, compileOptions{})
	if err != nil {
		return nil, fmt.Errorf("route53 config: %w", err)
	}
	s := &Server{
		log: logger.Named("route53"), addr0: cat.addr, state: stateNew,
		wrapPC: cfg.WrapPacketConn, wrapLn: cfg.WrapListener,
		base: cfg, checks: make(map[string]*atomic.Bool),
	}
	s.base.Zones = cloneZones(cfg.Zones)
	s.cat.Store(cat)
	return s, nil
}

// Start binds UDP and TCP on the configured address (for port 0, one port
// free for both) and returns once both listeners serve. ctx bounds only the
// start; Close stops the server.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStarted:
		return ErrAlreadyStarted
	case stateClosed:
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start dns server on %s: %w", s.addr0, err)
	}
	udp, ln, err := listen(ctx, s.addr0)
	if err != nil {
		return fmt.Errorf("start dns server on %s: %w", s.addr0, err)
	}
	var pc net.PacketConn = udp
	if s.wrapPC != nil {
		pc = s.wrapPC(udp)
	}
	if s.wrapLn != nil {
		ln = s.wrapLn(ln)
	}
	ln = &backoffListener{Listener: ln, log: s.log}
	up := make(chan struct{}, 2)
	notify := func() { up <- struct{}{} }
	guard := func(r dns.Reader) dns.Reader { return ecsGuard{r} }
	s.udp = &dns.Server{
		PacketConn: pc, Handler: s, UDPSize: udpReadSize,
		MsgAcceptFunc: acceptQuery, DecorateReader: guard, NotifyStartedFunc: notify,
		MsgInvalidFunc: s.invalid,
	}
	s.tcp = &dns.Server{
		Listener: ln, Handler: s,
		MsgAcceptFunc: acceptQuery, DecorateReader: guard, NotifyStartedFunc: notify,
		MsgInvalidFunc: s.invalid,
		ReadTimeout:    5 * time.Second,
	}
	failed := make(chan error, 2)
	var serving atomic.Bool // set once Start has returned success
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		s.served.Add(1)
		go func() {
			defer s.served.Done()
			err := srv.ActivateAndServe()
			if err != nil && serving.Load() {
				// Nobody waits for this error any more; say the rig lost a
				// listener.
				s.log.Error("dns listener failed", zap.Error(err))
				s.failure.Store(&err)
			}
			failed <- err
		}()
	}
	s.addr = pc.LocalAddr().String()
	s.state = stateStarted
	for range 2 {
		select {
		case <-up:
		case err = <-failed:
			if err == nil {
				err = errors.New("listener stopped while starting")
			}
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			s.stopLocked()
			s.state = stateNew
			return fmt.Errorf("start dns server on %s: %w", s.addr, err)
		}
	}
	serving.Store(true)
	s.log.Info("dns server started", zap.String("addr", s.addr))
	return nil
}

// Addr is the bound host:port once started, else "".
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateStarted {
		return ""
	}
	return s.addr
}

// SetHealthy marks every geolocation record set with this set identifier
// healthy or unhealthy; answers change at once.
func (s *Server) SetHealthy(setID string, healthy bool) error {
	h, ok := s.cat.Load().health[setID]
	if !ok {
		return fmt.Errorf("set health of %q: %w", setID, ErrUnknownSetIdentifier)
	}
	h.Store(healthy)
	s.log.Info("record health changed", zap.String("set_identifier", setID), zap.Bool("healthy", healthy))
	return nil
}

// Close stops both listeners and waits for the serving goroutines. It is
// idempotent; a closed server cannot be started again.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStarted {
		s.stopLocked()
		s.log.Info("dns server stopped", zap.String("addr", s.addr))
	}
	s.state = stateClosed
	return nil
}

// stopLocked shuts both dns.Servers down; a server that never got going
// is stopped by closing its socket. Needs s.mu.
func (s *Server) stopLocked() {
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if err := srv.Shutdown(); err != nil {
			// Not started: ActivateAndServe is running or has failed;
			// closing the socket ends it either way.
			if srv.PacketConn != nil {
				_ = srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				_ = srv.Listener.Close()
			}
		}
	}
	s.served.Wait()
}

// ServeDNS answers one query; it implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	src, udp := peer(w)
	m := s.cat.Load().answer(r, src, udp)
	if m == nil {
		return
	}
	if ce := s.log.Check(zap.DebugLevel, "dns query"); ce != nil {
		var qname, qtype string
		if len(r.Question) > 0 {
			qname, qtype = r.Question[0].Name, dns.TypeToString[r.Question[0].Qtype]
		}
		ce.Write(zap.String("qname", qname), zap.String("qtype", qtype),
			zap.Stringer("source", src), zap.Bool("udp", udp),
			zap.String("rcode", dns.RcodeToString[m.Rcode]), zap.Int("answers", len(m.Answer)),
			zap.Bool("truncated", m.Truncated))
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write dns reply", zap.Error(err), zap.Stringer("source", src))
	}
}

func (s *Server) invalid(m []byte, err error) {
	s.log.Debug("undecodable dns message", zap.Int("bytes", len(m)), zap.Error(err))
}

// ReadPacketConn serves a wrapped UDP socket (Config.WrapPacketConn), which
// miekg/dns reads through this interface rather than ReadUDP.
func (g ecsGuard) ReadPacketConn(conn net.PacketConn, timeout time.Duration) ([]byte, net.Addr, error) {
	r, ok := g.Reader.(dns.PacketConnReader)
	if !ok {
		return nil, nil, errors.New("dns reader cannot read a wrapped UDP socket")
	}
	m, addr, err := r.ReadPacketConn(conn, timeout)
	if err == nil {
		poisonMalformedECS(m)
	}
	return m, addr, err
}

// acceptQuery lets every query through to ServeDNS, which answers bad
// opcodes and question counts itself; only responses are dropped.
func acceptQuery(dh dns.Header) dns.MsgAcceptAction {
	const qrBit = 1 << 15
	if dh.Bits&qrBit != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}

// peer returns the client's address and whether it came over UDP.
func peer(w dns.ResponseWriter) (netip.Addr, bool) {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap(), true
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap(), false
	case nil:
		return netip.Addr{}, true
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}, a.Network() != "tcp"
		}
		return ap.Addr().Unmap(), a.Network() != "tcp"
	}
}

// listen binds UDP and TCP on addr. With port 0 it takes the UDP port the
// kernel picks and tries it for TCP, again with a fresh port when TCP has
// it taken.
func listen(ctx context.Context, addr string) (*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lc net.ListenConfig
	attempts := 1
	if port == "0" {
		attempts = portAttempts
	}
	var lastErr error
	for range attempts {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		udp := pc.(*net.UDPConn)
		_ = udp.SetReadBuffer(udpSocketBuffer) // best effort: a smaller buffer still serves
		bound := net.JoinHostPort(host, fmt.Sprint(udp.LocalAddr().(*net.UDPAddr).Port))
		ln, err := lc.Listen(ctx, "tcp", bound)
		if err == nil {
			return udp, ln, nil
		}
		_ = udp.Close()
		lastErr = fmt.Errorf("listen tcp %s: %w", bound, err)
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, nil, lastErr
}
