//go:build notpm

package tpm

import (
	"context"
	"io"
	"net/url"

	"github.com/fleetboot/fleetboot/keystore"
)

func init() {
	keystore.Register(Scheme, func(context.Context, *url.URL, keystore.Options) (keystore.Keystore, error) {
		return nil, ErrNoTPMSupport
	})
}

// OpenDevice fails: this build has no TPM transports.
func OpenDevice(context.Context, *url.URL) (io.Closer, error) { return nil, ErrNoTPMSupport }
