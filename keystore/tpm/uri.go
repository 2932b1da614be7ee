package tpm

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/fleetboot/fleetboot/keystore"
)

// Scheme is the URI scheme this package registers.
const Scheme = "tpm"

// Defaults for what a tpm: URI leaves out.
const (
	DefaultDevice = "/dev/tpmrm0"
	// DefaultHandle is in the owner's persistent range, clear of the TCG's
	// reserved SRK (0x81000001) and EK (0x81010001) handles.
	DefaultHandle uint32 = 0x81000010
	// DefaultDir is the certificate folder, relative to keystore.Options.BaseDir.
	DefaultDir     = "keys"
	defaultTCPPort = "2321"
)

// The owner hierarchy's persistent handles (TPM 2.0 Part 2, 7.6 and the TCG
// Registry of Reserved Handles); platform handles above need platform auth.
const (
	minOwnerPersistent uint32 = 0x81000000
	maxOwnerPersistent uint32 = 0x817fffff
)

// Location is a parsed tpm: URI.
type Location struct {
	// Path is a TPM character device, e.g. /dev/tpmrm0; empty for TCP.
	Path string
	// Addr is host:port of a TPM's TCP command port; empty for a device.
	Addr string
	// Handle is the persistent handle of the device key.
	Handle uint32
	// Dir is the certificate folder as written in the URI (possibly relative);
	// empty if the URI names none.
	Dir string
}

// ParseURI reads a tpm: URI. Errors wrap keystore.ErrInvalidURI.
func ParseURI(u *url.URL) (Location, error) {
	bad := func(format string, a ...any) (Location, error) {
		return Location{}, fmt.Errorf("%w: "+format, append([]any{keystore.ErrInvalidURI}, a...)...)
	}
	if !strings.EqualFold(u.Scheme, Scheme) {
		return bad("scheme %q, want %s", u.Scheme, Scheme)
	}
	if u.Opaque != "" {
		return bad("tpm:%.64s: want tpm:///dev/tpmrm0 or tpm://127.0.0.1:2321", u.Opaque)
	}
	if u.User != nil {
		return bad("tpm URI with a user: pass the owner authorization as keystore.Options.Device")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return bad("tpm URI with a fragment")
	}
	loc := Location{Handle: DefaultHandle}
	if u.Host != "" {
		if u.Path != "" && u.Path != "/" {
			return bad("tpm URI names both a host and a path %.64q", u.Path)
		}
		addr, err := tcpAddr(u.Host)
		if err != nil {
			return bad("%v", err)
		}
		loc.Addr = addr
	} else {
		p := u.Path
		if p == "" {
			p = DefaultDevice
		}
		if !path.IsAbs(p) || strings.ContainsRune(p, 0) {
			return bad("TPM device %.64q: want an absolute path", p)
		}
		loc.Path = path.Clean(p)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: %v", err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return bad("parameter %.32q given %d times", k, len(v))
		}
		switch k {
		case "handle":
			h, err := strconv.ParseUint(v[0], 0, 32)
			if err != nil || uint32(h) < minOwnerPersistent || uint32(h) > maxOwnerPersistent {
				return bad("handle %.32q: want an owner persistent handle 0x%08x-0x%08x", v[0], minOwnerPersistent, maxOwnerPersistent)
			}
			loc.Handle = uint32(h)
		case "dir":
			if v[0] == "" || strings.ContainsRune(v[0], 0) {
				return bad("dir is empty or holds a NUL")
			}
			loc.Dir = v[0]
		default:
			return bad("unknown parameter %.32q (want handle, dir)", k)
		}
	}
	return loc, nil
}

// tcpAddr accepts loopback hosts only: the TCP protocol carries commands and the
// owner password in clear, so a TPM elsewhere on the network is refused.
func tcpAddr(hostport string) (string, error) {
	host, port := hostport, defaultTCPPort
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("TCP port %.16q: want 1-65535", port)
	}
	if host != "localhost" {
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.Zone() != "" || !ip.IsLoopback() {
			return "", fmt.Errorf("TPM host %.64q: only loopback addresses (127.0.0.0/8, ::1, localhost), as the TPM protocol is not encrypted", host)
		}
		host = ip.String()
	}
	return net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}

// String is the URI in canonical form; ParseURI reads it back to l.
func (l Location) String() string {
	u := url.URL{Scheme: Scheme}
	if l.Addr != "" {
		u.Host = l.Addr
	} else {
		u.Path = l.Path
	}
	q := url.Values{}
	q.Set("handle", fmt.Sprintf("0x%08x", l.Handle))
	if l.Dir != "" {
		q.Set("dir", l.Dir)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
