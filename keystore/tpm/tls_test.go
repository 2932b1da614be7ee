//go:build !notpm

package tpm

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/tpm/tpmtest"
)

// TestTLSClientAuth runs real handshakes on loopback: a Go TLS server that
// requires and verifies a client certificate, and a client whose key is in
// the TPM, for each key kind and TLS version (RSA in TLS 1.2 both with PKCS #1
// v1.5 and with PSS; TLS 1.3 allows only PSS).
func TestTLSClientAuth(t *testing.T) {
	type keyKind struct {
		name string
		make func(t *testing.T, ks *Keystore, ca *testCA)
	}
	generate := func(alg keystore.Algorithm) func(*testing.T, *Keystore, *testCA) {
		return func(t *testing.T, ks *Keystore, ca *testCA) {
			s, err := ks.GenerateKey(context.Background(), alg)
			if err != nil {
				t.Fatal(err)
			}
			if err := ks.StoreCertificate(context.Background(), ca.issue(t, s.Public(), "dev", x509.ExtKeyUsageClientAuth), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	imported := func(kind string) func(*testing.T, *Keystore, *testCA) {
		return func(t *testing.T, ks *Keystore, ca *testCA) {
			k := softwareKey(t, kind)
			if err := ks.ImportIdentity(context.Background(), k, ca.issue(t, k.Public(), "dev", x509.ExtKeyUsageClientAuth), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	kinds := []keyKind{
		{"generated-ecdsa-p256", generate(keystore.ECDSAP256)},
		{"generated-rsa-2048", generate(keystore.RSA2048)},
		{"imported-rsa-2048", imported("rsa-2048")},
		{"imported-ecdsa-p256", imported("ecdsa-p256")},
	}
	versions := []struct {
		name    string
		version uint16
		schemes []tls.SignatureScheme // restricts the client key's schemes; nil: any
	}{
		{"tls1.2", tls.VersionTLS12, nil},
		{"tls1.2-pkcs1v15", tls.VersionTLS12, []tls.SignatureScheme{tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.ECDSAWithP256AndSHA256}},
		{"tls1.3", tls.VersionTLS13, nil},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			sim := tpmtest.NewSimulator(t)
			ks := openKS(t, sim, "")
			ca := newCA(t)
			kind.make(t, ks, ca)
			cert, err := keystore.TLSCertificate(context.Background(), ks)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range versions {
				t.Run(v.name, func(t *testing.T) {
					c := cert
					c.SupportedSignatureAlgorithms = v.schemes
					rec := &recordingSigner{Signer: cert.PrivateKey.(crypto.Signer)}
					c.PrivateKey = rec
					peer := handshake(t, ca, c, v.version)
					if !peer.Equal(cert.Leaf) {
						t.Fatal("the server saw another client certificate")
					}
					if rec.signs != 1 {
						t.Fatalf("the TPM key signed %d times, want 1", rec.signs)
					}
					if _, isRSA := rec.Public().(*rsa.PublicKey); isRSA {
						wantPSS := v.schemes == nil
						if rec.pss != wantPSS {
							t.Fatalf("RSA signed with PSS=%v, want %v", rec.pss, wantPSS)
						}
					}
				})
			}
			tpmtest.CheckNoTransients(t, sim)
		})
	}
}

// handshake connects a client with cert to a fresh loopback server of ca and
// returns the client certificate the server verified.
func handshake(t *testing.T, ca *testCA, cert tls.Certificate, version uint16) *x509.Certificate {
	t.Helper()
	serverKey := softwareKey(t, "ecdsa-p256")
	serverCert := ca.issue(t, serverKey.Public(), "localhost", x509.ExtKeyUsageServerAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		peer *x509.Certificate
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		srv := tls.Server(conn, &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey}},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   version,
			MaxVersion:   version,
		})
		if err := srv.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		// Echo one byte so the client's TLS 1.3 certificate is processed.
		b := make([]byte, 1)
		if _, err := io.ReadFull(srv, b); err != nil {
			done <- result{err: err}
			return
		}
		srv.Write(b)
		st := srv.ConnectionState()
		if len(st.PeerCertificates) == 0 {
			done <- result{err: errors.New("no client certificate")}
			return
		}
		done <- result{peer: st.PeerCertificates[0]}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   "localhost",
		MinVersion:   version,
		MaxVersion:   version,
	})
	if err != nil {
		t.Fatalf("client handshake: %v (server: %v)", err, (<-done).err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		t.Fatalf("client read: %v (server: %v)", err, (<-done).err)
	}
	if got := conn.ConnectionState().Version; got != version {
		t.Fatalf("negotiated TLS %x, want %x", got, version)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	return r.peer
}

// recordingSigner counts signatures and notes whether PSS was asked for.
type recordingSigner struct {
	crypto.Signer
	signs int
	pss   bool
}

func (r *recordingSigner) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	r.signs++
	_, r.pss = opts.(*rsa.PSSOptions)
	return r.Signer.Sign(rnd, digest, opts)
}
