package provisioning

import (
	"errors"
	"net"
	"sync"
)

// connectWatch remembers, for the MQTT handshake only, whether a CONNECT went out
// whole and whether anything came back, so that Dial can tell a broker that closed
// the connection in answer to the CONNECT (AWS's refusal) from one that never got
// it. After the first byte read it only passes calls through.
type connectWatch struct {
	net.Conn

	mu      sync.Mutex
	sent    bool  // a write completed without error: paho writes CONNECT in one
	read    bool  // a byte arrived
	readErr error // how the first read ended, if it ended before any byte
}

func (w *connectWatch) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if err == nil && n == len(p) && n > 0 {
		w.mu.Lock()
		w.sent = true
		w.mu.Unlock()
	}
	return n, err
}

func (w *connectWatch) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.mu.Lock()
	if n > 0 {
		w.read = true
	} else if err != nil && !w.read && w.readErr == nil {
		w.readErr = err
	}
	w.mu.Unlock()
	return n, err
}

// refusal returns what the broker's end of the handshake means for the identity:
// a certificate alert (kept as it came), a close after the CONNECT with no reply
// (*ConnectClosedError), or nil when neither happened.
func (w *connectWatch) refusal(will *Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.read || w.readErr == nil {
		return nil
	}
	if _, ok := CertificateAlert(w.readErr); ok {
		return w.readErr
	}
	if !w.sent || isTimeout(w.readErr) || errors.Is(w.readErr, net.ErrClosed) {
		// Our own deadline or close (ctx ended), or the CONNECT never went out.
		return nil
	}
	return &ConnectClosedError{Will: will, Err: w.readErr}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
