package main

// Keystore backends register their URI scheme when linked.
import _ "github.com/fleetboot/fleetboot/keystore/file"
