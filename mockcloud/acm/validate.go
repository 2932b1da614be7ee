package acm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// Size limits of the model's blobs.
const (
	maxCertificate = 32768
	maxPrivateKey  = 5120
	maxChain       = 2097152
)

// checkImport applies ACM's import checks and describes the certificate.
func checkImport(certPEM, keyPEM, chainPEM []byte, now time.Time) (Certificate, error) {
	switch {
	case len(certPEM) == 0 || len(certPEM) > maxCertificate:
		return Certificate{}, validation("the certificate must be 1 to %d bytes", maxCertificate)
	case len(keyPEM) == 0 || len(keyPEM) > maxPrivateKey:
		return Certificate{}, validation("the private key must be 1 to %d bytes", maxPrivateKey)
	case len(chainPEM) > maxChain:
		return Certificate{}, validation("the certificate chain must be at most %d bytes", maxChain)
	}
	certs, err := parseCertificates(certPEM)
	if err != nil {
		return Certificate{}, validation("the certificate: %v", err)
	}
	if len(certs) != 1 {
		return Certificate{}, validation("the certificate field holds %d certificates; it takes the leaf alone, the rest goes in the certificate chain", len(certs))
	}
	leaf := certs[0]
	key, err := parseKey(keyPEM)
	if err != nil {
		return Certificate{}, validation("the private key: %v", err)
	}
	alg, err := keyAlgorithm(leaf.PublicKey)
	if err != nil {
		return Certificate{}, validation("the certificate: %v", err)
	}
	if !samePublicKey(leaf.PublicKey, key.Public()) {
		return Certificate{}, validation("the private key does not match the certificate's public key")
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return Certificate{}, validation("the certificate is valid from %s to %s, not now", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if len(chainPEM) > 0 {
		chain, err := parseCertificates(chainPEM)
		if err != nil {
			return Certificate{}, validation("the certificate chain: %v", err)
		}
		prev := leaf
		for i, c := range chain {
			if err := prev.CheckSignatureFrom(c); err != nil {
				return Certificate{}, validation("the certificate chain is not in order: certificate %d of the chain (%s) did not sign %s", i+1, c.Subject, prev.Subject)
			}
			prev = c
		}
	}
	domain := leaf.Subject.CommonName
	if domain == "" && len(leaf.DNSNames) > 0 {
		domain = leaf.DNSNames[0]
	}
	return Certificate{
		CertPEM: string(certPEM), KeyPEM: string(keyPEM), ChainPEM: string(chainPEM),
		Domain: domain, SANs: leaf.DNSNames, Serial: colonHex(leaf.SerialNumber.Bytes()),
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
		KeyAlg: alg, SigAlg: strings.ToUpper(strings.ReplaceAll(leaf.SignatureAlgorithm.String(), "-", "")),
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
	}, nil
}

func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %s PEM block where a CERTIFICATE was expected", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("text after the last PEM block")
	}
	return out, nil
}

// parseKey takes an unencrypted PKCS#8, PKCS#1 or SEC 1 key. Errors never quote
// the key's bytes.
func parseKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	if strings.Contains(b.Type, "ENCRYPTED") || b.Headers["Proc-Type"] != "" {
		return nil, fmt.Errorf("the key is encrypted; ACM imports unencrypted keys only")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("a %s PEM block is not a private key", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s block does not hold a valid key", b.Type)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T is not supported", k)
	}
	return s, nil
}

// keyAlgorithm is ACM's KeyAlgorithm name for the algorithms it imports.
func keyAlgorithm(pub any) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch n := k.N.BitLen(); n {
		case 1024, 2048, 3072, 4096:
			return fmt.Sprintf("RSA_%d", n), nil
		default:
			return "", fmt.Errorf("an RSA key of %d bits is not supported (1024, 2048, 3072 or 4096)", n)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "EC_prime256v1", nil
		case elliptic.P384():
			return "EC_secp384r1", nil
		case elliptic.P521():
			return "EC_secp521r1", nil
		}
		return "", fmt.Errorf("the ECDSA curve %s is not supported", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("a %T key is not supported (RSA or ECDSA)", pub)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}
