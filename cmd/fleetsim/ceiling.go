package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
)

// Ceiling is the cryptographic work every provisioned device costs at least, done
// on every core of this machine with both ends of each handshake in this process,
// with the rig's own PKI code (mockcloud/pki) and the agent's CSR code (keystore):
// two mutual TLS 1.3 handshakes (claim, then permanent identity), one P-256 key,
// one CSR (signed by the device, checked by the region) and one certificate
// signature. Each end checks what the rig and the agent check: the client verifies
// the server's chain (leaf and root, as a region presents it) and its
// CertificateVerify; the server verifies the client's CertificateVerify and looks
// the certificate up by its SHA-256, as a region does in its registry. No fleet of
// this flow can provision faster than DevicesPerSecond on this machine.
type Ceiling struct {
	Workers          int
	Devices          int
	Elapsed          time.Duration
	DevicesPerSecond float64
	// CPU is the process's CPU time (user and system) per device.
	CPU time.Duration
	// Group is the TLS key exchange negotiated, the agent's and the rig's default.
	Group string
	// Per device, time per part (summed over workers, divided by Devices).
	Handshakes, KeyGen, CSR, CertSign time.Duration
}

// ceilingName is the server name of the ceiling's handshakes, the rig's global name.
const ceilingName = "global.iot.example.com"

// ceilingPKI is a throwaway rig PKI: root, server certificate, claim certificate,
// and the "registry" of certificates the server accepts.
type ceilingPKI struct {
	ca     *pki.CA
	pool   *x509.CertPool
	server tls.Certificate
	claim  tls.Certificate

	mu         sync.RWMutex
	registered map[[32]byte]bool

	// pair connects the two ends of a handshake; nil is net.Pipe, which costs no
	// system call: the ceiling is the crypto alone.
	pair func() (client, server net.Conn, err error)
}

func newCeilingPKI() (*ceilingPKI, error) {
	ca, err := pki.NewRootCA("fleetsim ceiling root")
	if err != nil {
		return nil, err
	}
	server, err := ca.IssueServer([]string{ceilingName})
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	claim, err := ca.IssueClient(&key.PublicKey, pkix.Name{CommonName: "fleetsim claim"}, time.Time{})
	if err != nil {
		return nil, err
	}
	p := &ceilingPKI{ca: ca, pool: ca.Pool(), server: server, registered: map[[32]byte]bool{}}
	p.claim = tls.Certificate{Certificate: [][]byte{claim.Raw}, PrivateKey: key, Leaf: claim}
	p.register(claim.Raw)
	return p, nil
}

func (p *ceilingPKI) register(der []byte) {
	p.mu.Lock()
	p.registered[sha256.Sum256(der)] = true
	p.mu.Unlock()
}

// verifyClient is the region's check: the certificate is registered.
func (p *ceilingPKI) verifyClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
	p.mu.RLock()
	ok := p.registered[sum]
	p.mu.RUnlock()
	if !ok {
		return errors.New("client certificate not registered")
	}
	return nil
}

// handshake runs one mutual TLS handshake with both ends in this process and
// returns the key exchange group. Session tickets are off: over net.Pipe an
// unread ticket would block the server, and the agent keeps no session cache, so
// a ticket is never used (sealing one costs microseconds).
func (p *ceilingPKI) handshake(ctx context.Context, client tls.Certificate) (tls.CurveID, error) {
	var a, b net.Conn
	if p.pair == nil {
		a, b = net.Pipe()
	} else {
		var err error
		if a, b, err = p.pair(); err != nil {
			return 0, err
		}
	}
	defer a.Close()
	defer b.Close()
	srv := tls.Server(b, &tls.Config{
		Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: p.verifyClient, MinVersion: tls.VersionTLS12, SessionTicketsDisabled: true,
	})
	// The agent's client configuration (provisioning.DialConfig.tlsConfig).
	cli := tls.Client(a, &tls.Config{
		ServerName: ceilingName, RootCAs: p.pool,
		Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12,
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.HandshakeContext(ctx) }()
	cerr := cli.HandshakeContext(ctx)
	// The server has read the client's last flight by now (a pipe write returns
	// once read); closing lets a refusing server's alert fail instead of block.
	a.Close()
	serr := <-errc
	if err := errors.Join(cerr, serr); err != nil {
		return 0, err
	}
	cs := cli.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		return 0, fmt.Errorf("negotiated TLS version %#x, want 1.3", cs.Version)
	}
	return cs.CurveID, nil
}

// oneDevice is the crypto of one device; it adds each part's time to t.
func (p *ceilingPKI) oneDevice(ctx context.Context, t *Ceiling) error {
	t0 := time.Now()
	group, err := p.handshake(ctx, p.claim)
	if err != nil {
		return fmt.Errorf("claim handshake: %w", err)
	}
	t1 := time.Now()
	key, err := keystore.GenerateSoftwareKey(keystore.ECDSAP256)
	if err != nil {
		return err
	}
	t2 := time.Now()
	// The device signs a CSR as the agent does; the region decodes and checks it
	// (pki.CA.SignCSR checks the signature) and signs the certificate.
	csr, err := createCSR(key, pkix.Name{CommonName: "fleetboot"})
	if err != nil {
		return err
	}
	if err := csr.CheckSignature(); err != nil {
		return err
	}
	t3 := time.Now()
	cert, err := p.ca.IssueClient(csr.PublicKey, pkix.Name{CommonName: "AWS IoT Certificate"}, time.Time{})
	if err != nil {
		return err
	}
	p.register(cert.Raw)
	t4 := time.Now()
	if _, err := p.handshake(ctx, tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}); err != nil {
		return fmt.Errorf("device handshake: %w", err)
	}
	t5 := time.Now()
	t.Handshakes += t1.Sub(t0) + t5.Sub(t4)
	t.KeyGen += t2.Sub(t1)
	t.CSR += t3.Sub(t2)
	t.CertSign += t4.Sub(t3)
	if t.Group == "" {
		t.Group = group.String()
	}
	return nil
}

// MeasureCeiling runs the per-device crypto on GOMAXPROCS workers for about d.
func MeasureCeiling(ctx context.Context, d time.Duration) (*Ceiling, error) {
	p, err := newCeilingPKI()
	if err != nil {
		return nil, err
	}
	workers := gomaxprocs()
	parts := make([]Ceiling, workers)
	errs := make([]error, workers)
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(d)
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
	cpu := processCPU() - cpu0
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, c := range parts {
		out.Devices += c.Devices
		out.Handshakes += c.Handshakes
		out.KeyGen += c.KeyGen
		out.CSR += c.CSR
		out.CertSign += c.CertSign
		if out.Group == "" {
			out.Group = c.Group
		}
	}
	if out.Devices == 0 {
		return nil, errors.New("no device's crypto finished in time")
	}
	n := time.Duration(out.Devices)
	out.Handshakes, out.KeyGen, out.CSR, out.CertSign = out.Handshakes/n, out.KeyGen/n, out.CSR/n, out.CertSign/n
	out.CPU = cpu / n
	out.DevicesPerSecond = float64(out.Devices) / out.Elapsed.Seconds()
	return out, nil
}

// KeyPoolReport describes CreateKeysAndCertificate's bound: RSA-2048 generation.
// Each region keeps a pool of PoolSize keys, filled by one goroutine from its
// first request on; a request that finds its pool empty generates its key inline.
type KeyPoolReport struct {
	PoolSize int
	// Pools is the number of pools the run's devices draw from: one per place,
	// each place being served by its own region in the default rig.
	Pools int
	// KeyGen is the mean time of one RSA-2048 key on one core; RefillPerSecond is
	// its inverse, the refill rate of one pool.
	KeyGen          time.Duration
	RefillPerSecond float64
	// Burst is the device count the estimate is for (the run's N), Inline the
	// keys made during it at least: Burst - PoolSize×Pools against full pools,
	// Burst against empty ones.
	Burst  int
	Inline int
	// BurstExtraCPU is the CPU time of the Inline keys; BurstExtraWall divides it
	// over GOMAXPROCS cores, the least it adds to the burst's duration.
	BurstExtraCPU  time.Duration
	BurstExtraWall time.Duration
	// Warmed says the pools were filled before the run started.
	Warmed bool
}

// MeasureKeyGen times RSA-2048 generation on one core for about d (at least
// three keys).
func MeasureKeyGen(ctx context.Context, d time.Duration) (*KeyPoolReport, error) {
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
	return &KeyPoolReport{KeyGen: per, RefillPerSecond: float64(time.Second) / float64(per)}, nil
}

// estimate fills in what a burst of burst devices over pools pools of poolSize
// keys costs beyond them.
func (r *KeyPoolReport) estimate(poolSize, pools, burst int) {
	r.PoolSize, r.Pools, r.Burst = poolSize, pools, burst
	r.Inline = max(0, burst-poolSize*pools)
	r.BurstExtraCPU = time.Duration(r.Inline) * r.KeyGen
	r.BurstExtraWall = r.BurstExtraCPU / time.Duration(gomaxprocs())
}
