// Package tpm is the keystore backend that keeps the device key inside a TPM 2.0,
// through github.com/google/go-tpm. It registers the "tpm" URI scheme:
//
//	tpm:///dev/tpmrm0                the kernel's resource manager (the default)
//	tpm:///dev/tpm0                  the raw device (no other TPM user may run)
//	tpm://127.0.0.1:2321             a TPM's TCP command port, e.g. swtpm's
//	                                 `--server type=tcp,port=2321`; loopback only
//
// Query parameters:
//
//	handle=0x81000010   the persistent handle of the device key (owner range
//	                    0x81000000-0x817fffff; DefaultHandle if absent)
//	dir=keys            the folder for the certificate and chain; relative to
//	                    keystore.Options.BaseDir, "keys" if absent
//
// The owner hierarchy's authorization (empty on most devices) is not part of
// the URI, which is logged: pass it as keystore.Options.Device = &Device{OwnerAuth: …}.
// It is needed to create the storage primary key and to persist or evict the
// device key; signing needs no authorization.
//
// # Two kinds of key
//
// CSR flow (KeyGenerator): the key is made by the TPM under the storage primary
// (the TCG ECC P-256 SRK template, created on demand and flushed after use) with
// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | sign, and made
// persistent at the handle. Its private part has never existed outside the TPM
// and cannot leave it: a stolen disk, a memory dump or root on the gateway can
// use the key while they last, but cannot copy it.
//
// Keys flow (KeyImporter): the cloud made the key and sent it over the network,
// so it existed in the cloud, on the wire (inside TLS) and in this process's
// memory before it reached the TPM. It is wrapped in software for the storage
// primary's public key (TPM2_Duplicate's outer wrapper: ECDH, KDFe, AES-CFB,
// HMAC), imported with TPM2_Import and persisted. It cannot be fixedTPM or
// fixedParent, and the TPM treats it as duplicable. This is much weaker than the
// CSR flow: the TPM protects the key from later theft of the gateway's disk, but
// nothing proves the key was never copied before, and whoever holds the cloud's
// response has it. The plaintext is never written to disk; the buffers this
// package builds are cleared, but the caller's parsed key and copies Go's
// runtime and big-number code make cannot be wiped, so the key stays in process
// memory until the garbage collector reuses it.
//
// # Files
//
// The certificate and chain are kept in dir with file.Generations (cert.pem,
// chain.pem; 0600 files, 0700 folders, atomic replacement). The TPM is the
// authority on the key: a stored certificate that does not certify the key at
// the handle (an import interrupted between the TPM and the disk, or a handle
// evicted by other software) is reported as not found, so the next provisioning
// run replaces it.
//
// # Build tags
//
// With -tags notpm the package still registers the scheme, but opening it fails
// with ErrNoTPMSupport; the binary then carries no go-tpm code. Both builds are
// pure Go (CGO_ENABLED=0). Tests use go-tpm's simulator (cgo, OpenSSL) and swtpm.
package tpm
