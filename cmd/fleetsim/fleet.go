package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
)

// fleet is what every simulated device shares, read once: a device reads its
// claim certificate and root CAs at boot, and thousands of devices reading the
// same files would measure the file system, not the fleet.
type fleet struct {
	base  *agent.Config
	claim *tls.Certificate
	roots *x509.CertPool
	// maker is the rig's maker CA: the factory line of the jitp flow.
	maker *pki.CA
}

func loadFleet(p Params) (*fleet, error) {
	base, err := agent.LoadConfig(p.DeviceConfig)
	if err != nil {
		return nil, fmt.Errorf("device config: %w", err)
	}
	f := &fleet{base: base}
	if f.roots, err = agent.LoadRoots(base.Endpoint); err != nil {
		return nil, fmt.Errorf("device config: root CAs: %w", err)
	}
	if p.Mode == agent.ModeJITP {
		// mockcloud keeps its maker CA beside the device.yaml it writes.
		dir := filepath.Dir(p.DeviceConfig)
		f.maker, err = pki.LoadFiles(filepath.Join(dir, "maker-ca.pem"), filepath.Join(dir, "maker-ca.key"))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("jitp: the rig's maker CA belongs beside %s: %w", p.DeviceConfig, err)
		}
		if err != nil {
			return nil, fmt.Errorf("jitp: %w", err)
		}
		return f, nil
	}
	claim, err := tls.LoadX509KeyPair(base.Provisioning.ClaimCertificate, base.Provisioning.ClaimKey)
	if err != nil {
		return nil, fmt.Errorf("device config: claim certificate: %w", err)
	}
	f.claim = &claim
	return f, nil
}

// manufacture does what the factory line does for a jitp device: a key made in
// the device's keystore, a CSR naming the thing, signed by the maker's CA, the
// certificate and the CA stored beside the key.
func (f *fleet) manufacture(ctx context.Context, ks keystore.Keystore, thing string) error {
	gen, ok := ks.(keystore.KeyGenerator)
	if !ok {
		return fmt.Errorf("keystore %s cannot make keys", ks.Describe())
	}
	key, err := gen.GenerateKey(ctx, keystore.ECDSAP256)
	if err != nil {
		return fmt.Errorf("device key: %w", err)
	}
	csr, err := createCSR(key, pkix.Name{CommonName: thing})
	if err != nil {
		return fmt.Errorf("csr for %s: %w", thing, err)
	}
	leaf, err := f.maker.SignCSR(csr, nil, time.Now().Add(365*24*time.Hour))
	if err != nil {
		return fmt.Errorf("sign with the maker CA: %w", err)
	}
	if err := ks.StoreCertificate(ctx, leaf, []*x509.Certificate{f.maker.Certificate()}); err != nil {
		return fmt.Errorf("store the factory certificate: %w", err)
	}
	return nil
}

// createCSR is the agent's CSR (keystore.CreateCSR), decoded as the cloud decodes it.
func createCSR(key crypto.Signer, subject pkix.Name) (*x509.CertificateRequest, error) {
	csrPEM, err := keystore.CreateCSR(key, subject)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(csrPEM)
	if b == nil {
		return nil, errors.New("create csr: no PEM block")
	}
	return x509.ParseCertificateRequest(b.Bytes)
}
