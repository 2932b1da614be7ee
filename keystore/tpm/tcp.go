//go:build !notpm

package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Limits of the raw TCP transport.
const (
	// tpmHeaderSize is tag (2), size (4) and response code (4).
	tpmHeaderSize = 10
	// maxResponseSize is far above any TPM's MAX_RESPONSE_SIZE (4096 on most):
	// a larger size field means the stream is not a TPM's.
	maxResponseSize = 64 << 10
	// commandTimeout bounds one command: RSA key generation on a slow TPM takes
	// tens of seconds, and a peer that stops answering must not hang the agent.
	commandTimeout = 3 * time.Minute
	dialTimeout    = 10 * time.Second
)

var errBrokenStream = errors.New("TPM connection broken by an earlier error")

// tcpTPM speaks the plain TPM command stream over TCP: a command's bytes, then
// the response's, each self-delimited by its header. That is what swtpm's
// `--server type=tcp` port and tpm2-tss's "swtpm" TCTI use; swtpm must run with
// `--flags startup-clear` (or be started by another client), as this transport
// sends no power or startup commands. go-tpm's tcp package speaks the Microsoft
// simulator's framing instead, which needs the platform port too.
type tcpTPM struct {
	mu     sync.Mutex
	conn   net.Conn
	broken bool
}

func dialTCP(ctx context.Context, addr string) (*tcpTPM, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to TPM at %s: %w", addr, err)
	}
	return &tcpTPM{conn: c}, nil
}

// Send implements go-tpm's transport.TPM.
func (t *tcpTPM) Send(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken {
		return nil, errBrokenStream
	}
	// Any failure below leaves the stream at an unknown position.
	t.broken = true
	if err := t.conn.SetDeadline(time.Now().Add(commandTimeout)); err != nil {
		return nil, fmt.Errorf("TPM connection: %w", err)
	}
	if _, err := t.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("send TPM command: %w", err)
	}
	rsp, err := readResponse(t.conn)
	if err != nil {
		return nil, err
	}
	t.broken = false
	return rsp, nil
}

// Close implements io.Closer.
func (t *tcpTPM) Close() error { return t.conn.Close() }

// readResponse reads one TPM response (header and body) from r.
func readResponse(r io.Reader) ([]byte, error) {
	var hdr [tpmHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read TPM response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < tpmHeaderSize || size > maxResponseSize {
		return nil, fmt.Errorf("TPM response size %d: want %d-%d (is this a TPM's command port?)", size, tpmHeaderSize, maxResponseSize)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(r, rsp[tpmHeaderSize:]); err != nil {
		return nil, fmt.Errorf("read TPM response body: %w", err)
	}
	return rsp, nil
}
