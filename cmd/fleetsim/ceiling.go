package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// Ceiling is the cryptographic work every provisioned device costs at least, done
// on every core of this machine with both ends of each handshake in this process:
// two mutual TLS 1.3 handshakes (claim, then permanent identity), one P-256 key,
// one CSR signature and one certificate signature. No fleet of this flow can
// provision faster than DevicesPerSecond on this machine.
type Ceiling struct {
	Workers          int
	Devices          int
	Elapsed          time.Duration
	DevicesPerSecond float64
	// Per device, CPU time per part (summed over workers, divided by Devices).
	Handshakes, KeyGen, CSR, CertSign time.Duration
}

// pkiSet is a throwaway PKI shaped like the rig's: P-256 root, server and claim.
type pkiSet struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
	claim  tls.Certificate
}

func newPKI() (*pkiSet, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleetsim ceiling root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &pkiSet{caCert: caCert, caKey: caKey, pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	if p.server, err = p.issue(serverCert, "global.iot.example.com"); err != nil {
		return nil, err
	}
	if p.claim, err = p.issue(clientCert, "fleetsim claim"); err != nil {
		return nil, err
	}
	return p, nil
}

type certKind int

const (
	serverCert certKind = iota
	clientCert
)

func (p *pkiSet) issue(kind certKind, name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	der, err := p.sign(kind, name, &key.PublicKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func (p *pkiSet) sign(kind certKind, name string, pub any) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if kind == serverCert {
		tmpl.DNSNames = []string{name}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return x509.CreateCertificate(rand.Reader, tmpl, p.caCert, pub, p.caKey)
}

// handshake runs one mutual TLS 1.3 handshake with both ends in this process.
// Session tickets are off: over net.Pipe an unread ticket would block the server,
// and the agent never resumes a session anyway.
func (p *pkiSet) handshake(ctx context.Context, client tls.Certificate) error {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(b, &tls.Config{
		Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: p.pool, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true,
	})
	cli := tls.Client(a, &tls.Config{
		ServerName: "global.iot.example.com", RootCAs: p.pool,
		Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12,
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.HandshakeContext(ctx) }()
	cerr := cli.HandshakeContext(ctx)
	if cerr != nil {
		a.Close()
	}
	serr := <-errc
	if err := errors.Join(cerr, serr); err != nil {
		return err
	}
	if v := cli.ConnectionState().Version; v != tls.VersionTLS13 {
		return fmt.Errorf("negotiated TLS version %#x, want 1.3", v)
	}
	return nil
}

// oneDevice is the crypto of one device; it adds each part's time to t.
func (p *pkiSet) oneDevice(ctx context.Context, t *Ceiling) error {
	t0 := time.Now()
	if err := p.handshake(ctx, p.claim); err != nil {
		return fmt.Errorf("claim handshake: %w", err)
	}
	t1 := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	t2 := time.Now()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "fleetboot"}}, key)
	if err != nil {
		return err
	}
	t3 := time.Now()
	der, err := p.sign(clientCert, "device", &key.PublicKey)
	if err != nil {
		return err
	}
	t4 := time.Now()
	_ = csr
	if err := p.handshake(ctx, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}); err != nil {
		return fmt.Errorf("device handshake: %w", err)
	}
	t5 := time.Now()
	t.Handshakes += t1.Sub(t0) + t5.Sub(t4)
	t.KeyGen += t2.Sub(t1)
	t.CSR += t3.Sub(t2)
	t.CertSign += t4.Sub(t3)
	return nil
}

// MeasureCeiling runs the per-device crypto on GOMAXPROCS workers for about d.
func MeasureCeiling(ctx context.Context, d time.Duration) (*Ceiling, error) {
	p, err := newPKI()
	if err != nil {
		return nil, err
	}
	workers := gomaxprocs()
	parts := make([]Ceiling, workers)
	errs := make([]error, workers)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(c *Ceiling, errp *error) {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := p.oneDevice(ctx, c); err != nil {
					*errp = err
					return
				}
				c.Devices++
			}
		}(&parts[w], &errs[w])
	}
	wg.Wait()
	out := &Ceiling{Workers: workers, Elapsed: time.Since(start)}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, c := range parts {
		out.Devices += c.Devices
		out.Handshakes += c.Handshakes
		out.KeyGen += c.KeyGen
		out.CSR += c.CSR
		out.CertSign += c.CertSign
	}
	if out.Devices == 0 {
		return nil, errors.New("no device's crypto finished in time")
	}
	n := time.Duration(out.Devices)
	out.Handshakes, out.KeyGen, out.CSR, out.CertSign = out.Handshakes/n, out.KeyGen/n, out.CSR/n, out.CertSign/n
	out.DevicesPerSecond = float64(out.Devices) / out.Elapsed.Seconds()
	return out, nil
}

// KeyPoolReport describes CreateKeysAndCertificate's bound: RSA-2048 generation.
// The mock keeps a pool of KeyPoolSize keys refilled by one goroutine; a request
// that finds it empty generates its key inline.
type KeyPoolReport struct {
	PoolSize int
	// KeyGen is the mean time of one RSA-2048 key on one core; RefillPerSecond is
	// its inverse, the pool's refill rate.
	KeyGen          time.Duration
	RefillPerSecond float64
	// Burst is the device count the estimate is for (the run's N).
	Burst int
	// BurstExtraCPU is the CPU time of the keys a burst of Burst devices must
	// generate inline (Burst - PoolSize keys); BurstExtraWall divides it over
	// GOMAXPROCS cores, the least it adds to the burst's duration.
	BurstExtraCPU  time.Duration
	BurstExtraWall time.Duration
}

// MeasureKeyPool times RSA-2048 generation on one core for about d (at least
// three keys) and estimates what a burst of burst devices costs beyond the pool.
func MeasureKeyPool(ctx context.Context, poolSize, burst int, d time.Duration) (*KeyPoolReport, error) {
	start := time.Now()
	n := 0
	for n < 3 || time.Since(start) < d {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
		n++
	}
	per := time.Since(start) / time.Duration(n)
	r := &KeyPoolReport{PoolSize: poolSize, KeyGen: per, RefillPerSecond: float64(time.Second) / float64(per), Burst: burst}
	if extra := burst - poolSize; extra > 0 {
		r.BurstExtraCPU = time.Duration(extra) * per
		r.BurstExtraWall = r.BurstExtraCPU / time.Duration(gomaxprocs())
	}
	return r, nil
}
