//go:build !notpm && !linux

package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetboot/fleetboot/keystore"
)

func openDeviceFile(path string) (transport.TPMCloser, error) {
	return nil, fmt.Errorf("open TPM %s: device files are read on Linux only, use tpm://127.0.0.1:PORT: %w", path, keystore.ErrUnsupported)
}
