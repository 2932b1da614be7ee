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
// generation. An empty pool never blocks: the request generates its own key.
type keyPool struct {
	keys chan *rsa.PrivateKey
	log  *zap.Logger
	wg   sync.WaitGroup
}

func newKeyPool(size int, log *zap.Logger) *keyPool {
	return &keyPool{keys: make(chan *rsa.PrivateKey, size), log: log}
}

// start fills the pool until ctx ends.
func (p *keyPool) start(ctx context.Context) {
	if cap(p.keys) == 0 {
		return
	}
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

func (p *keyPool) wait() { p.wg.Wait() }

// get takes a pooled key or generates one inline.
func (p *keyPool) get() (*rsa.PrivateKey, error) {
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
