// Package crossbuild holds the test that runs the device binary built for the
// gateway architectures (linux/arm64, linux/arm GOARM=7) under qemu-user through a
// full first boot against a rig on loopback. It has no code of its own.
package crossbuild
