package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
)

// CreateCSR makes a PEM "CERTIFICATE REQUEST" for signer's key. It only calls
// signer.Public and signer.Sign, so a TPM-held key works as well as a software
// one. ECDSA P-256 signs with SHA-256 (P-384 SHA-384, P-521 SHA-512), RSA with
// SHA-256 PKCS#1 v1.5, which is what AWS IoT accepts.
func CreateCSR(signer crypto.Signer, subject pkix.Name) ([]byte, error) {
	if signer == nil {
		return nil, fmt.Errorf("create csr: no signer")
	}
	alg, err := signatureAlgorithm(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("create csr: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            subject,
		SignatureAlgorithm: alg,
	}, signer)
	if err != nil {
		return nil, fmt.Errorf("create csr: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func signatureAlgorithm(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256, nil
		case elliptic.P384():
			return x509.ECDSAWithSHA384, nil
		case elliptic.P521():
			return x509.ECDSAWithSHA512, nil
		}
		return 0, fmt.Errorf("ECDSA curve %s: %w", k.Curve.Params().Name, ErrUnsupported)
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, nil
	case ed25519.PublicKey:
		return x509.PureEd25519, nil
	}
	return 0, fmt.Errorf("public key of type %T: %w", pub, ErrUnsupported)
}
