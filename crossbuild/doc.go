// Package crossbuild holds the tests of the release device binary
// (scripts/release-build.sh): the linux/arm64 build fits the size budget, and the
// builds for the gateway architectures (linux/arm64, linux/arm GOARM=7) run a full
// first boot under qemu-user against a rig on loopback. It has no code of its own.
package crossbuild
