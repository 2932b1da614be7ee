package keystore

import (
	"context"
	"crypto/tls"
	"fmt"
)

// TLSCertificate assembles the keystore's identity for crypto/tls: the leaf and
// chain as DER, the Signer as the private key, and Leaf filled in. It fails with
// ErrMismatch if the stored certificate is not for the stored key.
func TLSCertificate(ctx context.Context, ks Keystore) (tls.Certificate, error) {
	signer, err := ks.Signer(ctx)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("device key in %s: %w", ks.Describe(), err)
	}
	leaf, chain, err := ks.Certificate(ctx)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("device certificate in %s: %w", ks.Describe(), err)
	}
	if err := MatchCertificate(signer.Public(), leaf); err != nil {
		return tls.Certificate{}, fmt.Errorf("device identity in %s: %w", ks.Describe(), err)
	}
	der := make([][]byte, 0, 1+len(chain))
	der = append(der, leaf.Raw)
	for _, c := range chain {
		der = append(der, c.Raw)
	}
	return tls.Certificate{Certificate: der, PrivateKey: signer, Leaf: leaf}, nil
}
