package iotcore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"go.uber.org/zap"
)

// serverTLS builds the listener's TLS configuration: one certificate per endpoint
// name chosen by SNI, client certificates required and checked against the registry.
func (r *Region) serverTLS() (*tls.Config, error) {
	names := append([]string{r.cfg.endpoint()}, r.cfg.CustomDomains...)
	certs := make(map[string]*tls.Certificate, len(names))
	for _, n := range names {
		c, err := r.cfg.CA.IssueServer([]string{n})
		if err != nil {
			return nil, fmt.Errorf("server certificate for %s: %w", n, err)
		}
		certs[strings.ToLower(n)] = &c
	}
	ats := certs[strings.ToLower(r.cfg.endpoint())]
	base := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Chain checks need the registry (CAs registered in this region, certificates
		// registered without CA), so the stdlib verifier is off and verifyClient runs.
		ClientAuth: tls.RequireAnyClientCert,
	}
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cert, err := r.pickCertificate(hello, certs, ats)
		if err != nil {
			r.log.Debug("TLS refused", zap.String("sni", hello.ServerName), zap.Error(err))
			return nil, err
		}
		c := base.Clone()
		c.Certificates = []tls.Certificate{*cert}
		c.VerifyConnection = func(cs tls.ConnectionState) error { return r.verifyClient(cs, hello.Conn) }
		// Offer x-amzn-mqtt-ca only to clients that ask for it: a server ALPN list
		// without a common protocol would fail the handshake under Go's strict ALPN.
		if slices.Contains(hello.SupportedProtos, ALPNMQTTCA) {
			c.NextProtos = []string{ALPNMQTTCA}
		}
		return c, nil
	}
	return base, nil
}

func (r *Region) pickCertificate(hello *tls.ClientHelloInfo, certs map[string]*tls.Certificate, ats *tls.Certificate) (*tls.Certificate, error) {
	if r.cfg.RequireALPN && !slices.Contains(hello.SupportedProtos, ALPNMQTTCA) {
		return nil, ErrALPNRequired
	}
	if hello.ServerName == "" {
		if !r.cfg.AllowMissingSNI {
			return nil, ErrSNIMissing
		}
		return ats, nil
	}
	if c, ok := certs[strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))]; ok {
		return c, nil
	}
	if !r.cfg.AllowUnknownSNI {
		return nil, fmt.Errorf("%w: %q", ErrSNIUnknown, hello.ServerName)
	}
	return ats, nil
}

// verifyClient accepts a client certificate that is registered in this region with
// status ACTIVE and either was registered without CA, was issued by the region
// itself, or chains to a registered ACTIVE CA. Anything else fails the handshake,
// so a refused device never reaches the broker.
//
// An unknown certificate issued by a registered CA that allows auto-registration
// is registered here (JITR/JITP). Its handshake completes, and unless
// JITPKeepFirstConnection applies, conn is marked so that its CONNECT is answered
// by closing the connection: the device sees the server hang up, as on AWS.
// The client may send the CA after its certificate or not; only the leaf counts.
func (r *Region) verifyClient(cs tls.ConnectionState, conn net.Conn) error {
	if len(cs.PeerCertificates) == 0 {
		return ErrCertificateRejected
	}
	leaf := cs.PeerCertificates[0]
	id := registry.CertificateID(leaf.Raw)
	cert, err := r.reg.GetCertificate(id)
	if errors.Is(err, registry.ErrNotFound) {
		var registered bool
		cert, registered, err = r.autoRegister(leaf, cs.ServerName)
		if err != nil {
			r.log.Info("client certificate refused", zap.String("certificate_id", id), zap.Error(err))
			return err
		}
		if registered && (!r.cfg.JITPKeepFirstConnection || cert.Status != registry.StatusActive) {
			cc, ok := conn.(*clientConn)
			if !ok {
				return fmt.Errorf("%w: certificate %s registered; reconnect", ErrCertificateRejected, id)
			}
			cc.closeAtConnect.Store(true)
			return nil
		}
	}
	if err != nil {
		r.log.Info("client certificate refused", zap.String("certificate_id", id), zap.Error(err))
		return fmt.Errorf("%w: %w", ErrCertificateRejected, err)
	}
	if cert.Status != registry.StatusActive {
		r.log.Info("client certificate refused", zap.String("certificate_id", id), zap.String("status", cert.Status))
		return fmt.Errorf("%w: certificate %s is %s", ErrCertificateRejected, id, cert.Status)
	}
	if cert.CAID == "" {
		return nil
	}
	ca, err := r.reg.GetCACertificate(cert.CAID)
	if err != nil || ca.Status != registry.StatusActive {
		return fmt.Errorf("%w: CA %s of certificate %s not active", ErrCertificateRejected, cert.CAID, id)
	}
	caCert, err := registry.ParseCertificatePEM(ca.PEM)
	if err != nil {
		return fmt.Errorf("%w: CA %s: %w", ErrCertificateRejected, cert.CAID, err)
	}
	if err := leaf.CheckSignatureFrom(caCert); err != nil {
		return fmt.Errorf("%w: not signed by CA %s: %w", ErrCertificateRejected, cert.CAID, err)
	}
	return nil
}

// peerCertificate is the verified leaf of a connection.
func peerCertificate(c any) (*x509.Certificate, bool) {
	tc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return nil, false
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return nil, false
	}
	return st.PeerCertificates[0], true
}
