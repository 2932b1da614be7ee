// Package packaging holds what ships fleetboot to a gateway: the systemd units
// (systemd/), the Debian package's nfpm configuration (nfpm.yaml), its
// maintainer scripts, copyright and lintian overrides (debian/, lintian-overrides),
// the conffile (config.yaml) and the man page (man/fleetboot.8). scripts/deb.sh
// builds the packages (`make deb`).
//
// The package has no code: its tests build the amd64 .deb and check it with
// dpkg-deb, lintian and systemd-analyze. A test whose tool is missing skips and
// names the Debian package to install; under CI=true it fails.
package packaging
