package main

// Keystore backends register their URI scheme when linked. A build with
// -tags notpm keeps the tpm scheme but answers it with tpm.ErrNoTPMSupport.
import (
	_ "github.com/fleetboot/fleetboot/keystore/file"
	_ "github.com/fleetboot/fleetboot/keystore/tpm"
)
