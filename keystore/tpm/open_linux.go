//go:build !notpm && linux

package tpm

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

func openDeviceFile(path string) (transport.TPMCloser, error) {
	t, err := linuxtpm.Open(path)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("open TPM %s: %w (the tss group usually may use /dev/tpmrm0)", path, err)
	case err != nil:
		return nil, fmt.Errorf("open TPM %s: %w", path, err)
	}
	return t, nil
}
