package tpm

import (
	"fmt"
	"io"
)

// Device carries what keystore.Options.Device can give the tpm backend beyond
// the URI. keystore.Options.Device may also be a go-tpm transport.TPMCloser
// alone, or nil (the backend opens the URI's device and closes it on Close).
type Device struct {
	// TPM is an open go-tpm transport.TPMCloser the caller keeps and closes, or
	// nil to let the keystore open the URI's device (and close it on Close).
	TPM io.Closer
	// OwnerAuth is the owner hierarchy's authorization value; empty on most
	// devices. It is sent as a plain password session: over a TCP transport
	// it crosses the socket in clear.
	OwnerAuth []byte
}

// Close closes TPM, if any.
func (d *Device) Close() error {
	if d == nil || d.TPM == nil {
		return nil
	}
	return d.TPM.Close()
}

// String never shows OwnerAuth.
func (d *Device) String() string {
	if d == nil {
		return "<nil>"
	}
	return fmt.Sprintf("tpm.Device{TPM: %T, OwnerAuth: %d bytes}", d.TPM, len(d.OwnerAuth))
}

// GoString is String, so %#v does not print OwnerAuth either.
func (d *Device) GoString() string { return d.String() }
