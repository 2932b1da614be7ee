package tpm

import "errors"

// ErrNoTPMSupport is returned when a binary built with -tags notpm is asked for
// a tpm: keystore.
var ErrNoTPMSupport = errors.New("this fleetboot was built without TPM support (tag notpm)")
