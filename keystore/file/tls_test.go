package file

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

// TestTLSHandshake runs mutual TLS on loopback with the client identity from a
// file keystore through keystore.TLSCertificate.
func TestTLSHandshake(t *testing.T) {
	ca := newCA(t)
	serverKey := newKey(t, "")
	server := tls.Certificate{Certificate: [][]byte{ca.issue(t, serverKey.Public(), "localhost").Raw}, PrivateKey: serverKey}
	keys := map[keystore.Algorithm]*Keystore{}
	for _, alg := range []keystore.Algorithm{keystore.ECDSAP256, keystore.RSA2048} {
		ks := open(t, "")
		ca.provision(t, ks, alg, "device-"+string(alg), nil)
		keys[alg] = ks
	}
	for _, alg := range []keystore.Algorithm{keystore.ECDSAP256, keystore.RSA2048} {
		for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(fmt.Sprintf("%s/%s", alg, tls.VersionName(ver)), func(t *testing.T) {
				cert, err := keystore.TLSCertificate(ctx, keys[alg])
				if err != nil {
					t.Fatal(err)
				}
				ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
					Certificates: []tls.Certificate{server},
					ClientAuth:   tls.RequireAndVerifyClientCert,
					ClientCAs:    ca.pool,
					MinVersion:   ver,
					MaxVersion:   ver,
				})
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				peer := make(chan string, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						peer <- "accept: " + err.Error()
						return
					}
					defer c.Close()
					tc := c.(*tls.Conn)
					if err := tc.Handshake(); err != nil {
						peer <- "server handshake: " + err.Error()
						return
					}
					peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
					io.Copy(io.Discard, c)
				}()
				c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
					Certificates: []tls.Certificate{cert},
					RootCAs:      ca.pool,
					ServerName:   "localhost",
					MinVersion:   ver,
					MaxVersion:   ver,
				})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.Handshake(); err != nil {
					t.Fatal(err)
				}
				if got := c.ConnectionState().Version; got != ver {
					t.Fatalf("negotiated %s", tls.VersionName(got))
				}
				if got, want := <-peer, "device-"+string(alg); got != want {
					t.Fatalf("server saw client %q, want %q", got, want)
				}
			})
		}
	}
}

func TestTLSCertificateRefusesMismatch(t *testing.T) {
	ca := newCA(t)
	ks := open(t, "")
	ca.provision(t, ks, "", "dev", nil)
	// Swap in a foreign certificate behind the keystore's back.
	other := newKey(t, "")
	gen, _ := ks.gens.Current()
	if err := writeOver(ks.Dir()+"/"+gen+"/"+CertFile, keystore.EncodeCertificatesPEM(ca.issue(t, other.Public(), "x"))); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.TLSCertificate(ctx, open(t, ks.Dir())); !errors.Is(err, keystore.ErrMismatch) {
		t.Fatalf("TLSCertificate: %v, want ErrMismatch", err)
	}
}
