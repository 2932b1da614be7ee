//go:build !notpm

package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/file"
)

// Every key here has a NULL scheme, so one key signs with any hash and, for
// RSA, both PKCS #1 v1.5 (TLS 1.2) and PSS (TLS 1.3); the scheme is chosen per
// TPM2_Sign. Keys have an empty authorization (userWithAuth): the TPM keeps the
// key from being copied, not from being used by root on the gateway.

var nullSym = tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull}

func eccParms(curve tpm2.TPMECCCurve) tpm2.TPMUPublicParms {
	return tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: nullSym,
		Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
		CurveID:   curve,
		KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
}

func rsaParms(bits int, exponent uint32) tpm2.TPMUPublicParms {
	return tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
		Symmetric: nullSym,
		Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
		KeyBits:   tpm2.TPMKeyBits(bits),
		Exponent:  exponent,
	})
}

// generateTemplate is the public template of a key the TPM makes: it can
// never leave the TPM (fixedTPM, fixedParent) and was born there
// (sensitiveDataOrigin).
func generateTemplate(alg keystore.Algorithm) (tpm2.TPMTPublic, error) {
	attrs := tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		SignEncrypt:         true,
	}
	switch alg {
	case "", keystore.ECDSAP256:
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: eccParms(tpm2.TPMECCNistP256),
			Unique:     tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
		}, nil
	case keystore.RSA2048:
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: rsaParms(2048, 0),
			Unique:     tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}),
		}, nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("key algorithm %q: %w (want %s or %s)", alg, keystore.ErrUnsupported, keystore.ECDSAP256, keystore.RSA2048)
}

// importObject builds the public area and marshalled TPMT_SENSITIVE of a key
// made elsewhere. The returned clear function zeroes the sensitive buffers.
// The object is duplicable (no fixedTPM, fixedParent), as the TPM requires for
// an import, and not encryptedDuplication, so no inner wrapper is needed.
func importObject(key crypto.PrivateKey) (pub tpm2.TPMTPublic, sensitive []byte, err error) {
	attrs := tpm2.TPMAObject{UserWithAuth: true, SignEncrypt: true}
	var secret []byte
	defer func() { clear(secret) }()
	var sens tpm2.TPMTSensitive
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		curve, size, err := eccCurve(k.Curve)
		if err != nil {
			return pub, nil, err
		}
		ecdh, err := k.PublicKey.ECDH()
		if err != nil {
			return pub, nil, fmt.Errorf("ECDSA public key: %w", keystore.ErrUnsupported)
		}
		point := ecdh.Bytes() // 0x04 || X || Y
		d, err := k.Bytes()
		if err != nil {
			return pub, nil, fmt.Errorf("ECDSA private key: %w", keystore.ErrUnsupported)
		}
		secret = d
		pub = tpm2.TPMTPublic{
			Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: eccParms(curve),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
				X: tpm2.TPM2BECCParameter{Buffer: point[1 : 1+size]},
				Y: tpm2.TPM2BECCParameter{Buffer: point[1+size:]},
			}),
		}
		sens = tpm2.TPMTSensitive{
			SensitiveType: tpm2.TPMAlgECC,
			Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgECC, &tpm2.TPM2BECCParameter{Buffer: d}),
		}
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		// RSA-2048 is the size every TPM 2.0 supports (PC Client profile); many,
		// and go-tpm's simulator, refuse 3072.
		if bits != 2048 || len(k.Primes) != 2 || k.E <= 0 || int64(k.E) > 1<<31 {
			return pub, nil, fmt.Errorf("RSA key of %d bits with %d primes: %w (want 2048 bits, two primes)", bits, len(k.Primes), keystore.ErrUnsupported)
		}
		exp := uint32(k.E)
		if exp == 65537 {
			exp = 0 // the TPM's encoding of the default exponent
		}
		// The TPM stores one prime and derives the rest.
		secret = k.Primes[0].FillBytes(make([]byte, bits/16))
		pub = tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: rsaParms(bits, exp),
			Unique:     tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.FillBytes(make([]byte, bits/8))}),
		}
		sens = tpm2.TPMTSensitive{
			SensitiveType: tpm2.TPMAlgRSA,
			Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgRSA, &tpm2.TPM2BPrivateKeyRSA{Buffer: secret}),
		}
	default:
		return pub, nil, fmt.Errorf("private key of type %T: %w", key, keystore.ErrUnsupported)
	}
	return pub, tpm2.Marshal(sens), nil
}

// ImportIdentity wraps key for the storage primary key, imports it with
// TPM2_Import, persists it at the handle (evicting the key there, if any, only
// once the new one is loaded) and stores leaf and chain. If the key is already
// the one at the handle only the certificates are replaced.
//
// The key and the files cannot change in one step: after a crash between them
// the stored certificate does not match the key at the handle, and Certificate
// reports it as not found, so the next run provisions again.
func (k *Keystore) ImportIdentity(ctx context.Context, key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate) error {
	s, ok := key.(crypto.Signer)
	if !ok || leaf == nil {
		return fmt.Errorf("import identity: want a private key (got %T) and a certificate", key)
	}
	if err := keystore.MatchCertificate(s.Public(), leaf); err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	pub, sensitive, err := importObject(key)
	if err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	defer clear(sensitive)
	if err := k.lock(ctx); err != nil {
		return err
	}
	defer k.mu.Unlock()
	cur, err := k.readKeyLocked()
	if err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	same := false
	if cur != nil {
		if p, err := publicKey(&cur.public); err == nil {
			same = keystore.MatchCertificate(p, leaf) == nil
		}
	}
	if !same {
		if err := k.importLocked(ctx, pub, sensitive, cur); err != nil {
			return fmt.Errorf("import identity: %w", err)
		}
	}
	files := file.CertificateFiles(leaf, chain)
	if _, err := k.gens.Update(ctx, nil, func(*file.Snapshot) (map[string][]byte, error) { return files, nil }); err != nil {
		return fmt.Errorf("import identity: store certificate: %w", err)
	}
	k.log.Info("device identity imported into the TPM", zap.String("handle", fmt.Sprintf("0x%08x", uint32(k.handle))),
		zap.String("subject", leaf.Subject.String()), zap.String("public_key", keystore.DescribePublicKey(s.Public())), zap.Bool("key_unchanged", same))
	return nil
}

func (k *Keystore) importLocked(ctx context.Context, pub tpm2.TPMTPublic, sensitive []byte, old *persisted) error {
	srk, flushSRK, err := k.createSRKLocked()
	if err != nil {
		return err
	}
	defer flushSRK()
	srkPub, err := tpm2.ReadPublic{ObjectHandle: srk.Handle}.Execute(k.cmd)
	if err != nil {
		return fmt.Errorf("read storage primary key: %w", err)
	}
	srkArea, err := srkPub.OutPublic.Contents()
	if err != nil {
		return fmt.Errorf("storage primary key: %w", err)
	}
	wrapKey, err := tpm2.ImportEncapsulationKey(srkArea)
	if err != nil {
		return fmt.Errorf("storage primary key: %w", err)
	}
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		return fmt.Errorf("name of the key: %w", err)
	}
	dup, seed, err := tpm2.CreateDuplicate(rand.Reader, wrapKey, name.Buffer, sensitive)
	if err != nil {
		return fmt.Errorf("wrap key for the TPM: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	imported, err := tpm2.Import{
		ParentHandle: srk,
		ObjectPublic: tpm2.New2B(pub),
		Duplicate:    tpm2.TPM2BPrivate{Buffer: dup},
		InSymSeed:    tpm2.TPM2BEncryptedSecret{Buffer: seed},
		Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(k.cmd)
	if err != nil {
		return fmt.Errorf("TPM2_Import: %w", err)
	}
	return k.loadAndPersistLocked(ctx, srk, tpm2.New2B(pub), imported.OutPrivate, old)
}
