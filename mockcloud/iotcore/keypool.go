package iotcore

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"

	"go.uber.org/zap"
)

// rsaBits is the key size AWS documents for CreateKeysAndCertificate.
const rsaBits = 2048

// keyPool holds RSA keys generated ahead by one background goroutine, so that
// CreateKeysAndCertificate answers at the speed of a signature, not of a key
// generation. The pool starts filling at the first request, not at start: a
// key takes tens of milliseconds of a core, and a rig that never serves the keys
// flow (the CSR flow, JITP, most tests) should not spend seconds of CPU on keys
// nobody asks for. An empty pool never blocks: the request generates its own key.
type keyPool struct {
	keys chan *rsa.PrivateKey
	log  *zap.Logger

	mu      sync.Mutex
	ctx     context.Context // set by start; the filler runs until it ends
	filling bool
	stopped bool
	wg      sync.WaitGroup
}

func newKeyPool(size int, log *zap.Logger) *keyPool {
	return &keyPool{keys: make(chan *rsa.PrivateKey, size), log: log}
}

// start arms the pool: the first get starts filling it, until ctx ends.
func (p *keyPool) start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx = ctx
}

// fill starts the filler unless it runs already, the pool has no room or it was
// never started or is stopping.
func (p *keyPool) fill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.filling || p.stopped || p.ctx == nil || p.ctx.Err() != nil || cap(p.keys) == 0 {
		return
	}
	p.filling = true
	ctx := p.ctx
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for ctx.Err() == nil {
			k, err := rsa.GenerateKey(rand.Reader, rsaBits)
			if err != nil {
				p.log.Error("generate pooled RSA key", zap.Error(err))
				return
			}
			select {
			case p.keys <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// wait stops new fillers and waits for the running one, whose context must be done.
func (p *keyPool) wait() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.wg.Wait()
}

// get takes a pooled key or generates one inline.
func (p *keyPool) get() (*rsa.PrivateKey, error) {
	p.fill()
	select {
	case k := <-p.keys:
		return k, nil
	default:
	}
	if cap(p.keys) > 0 {
		p.log.Info("RSA key pool empty: generating the key inline")
	}
	k, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	return k, nil
}
