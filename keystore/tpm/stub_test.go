//go:build notpm

package tpm

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

func TestStubRefusesWithClearError(t *testing.T) {
	_, err := keystore.Open(context.Background(), "tpm:///dev/tpmrm0", keystore.Options{})
	if !errors.Is(err, ErrNoTPMSupport) {
		t.Fatalf("Open = %v, want ErrNoTPMSupport", err)
	}
	if _, err := OpenDevice(context.Background(), nil); !errors.Is(err, ErrNoTPMSupport) {
		t.Fatalf("OpenDevice = %v", err)
	}
}
