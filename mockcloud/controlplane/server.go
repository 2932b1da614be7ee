package controlplane

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Server limits: a client that drips a body, holds a keep-alive connection
// idle or opens thousands of connections must not take the process's file
// descriptors (and with them DNS over TCP and the regions).
const (
	ServerReadTimeout       = 30 * time.Second
	ServerReadHeaderTimeout = 10 * time.Second
	ServerWriteTimeout      = 30 * time.Second
	ServerIdleTimeout       = 60 * time.Second
	MaxServerConns          = 256
	maxRequestBody          = 1 << 20
)

// NewServer is the control plane's HTTP server: read, write and idle timeouts,
// and request bodies limited to 1 MiB. Serve it on LimitListener(ln, MaxServerConns).
func NewServer(h http.Handler) *http.Server {
	return newServer(h, serverLimits{
		read: ServerReadTimeout, readHeader: ServerReadHeaderTimeout,
		write: ServerWriteTimeout, idle: ServerIdleTimeout, body: maxRequestBody,
	})
}

type serverLimits struct {
	read, readHeader, write, idle time.Duration
	body                          int64
}

func newServer(h http.Handler, l serverLimits) *http.Server {
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, l.body)
			h.ServeHTTP(w, r)
		}),
		ReadTimeout:       l.read,
		ReadHeaderTimeout: l.readHeader,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
	}
}

// LimitListener accepts at most n connections at once; further clients wait in
// the kernel's backlog until one closes.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
