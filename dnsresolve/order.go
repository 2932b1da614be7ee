package dnsresolve

import "net/netip"

// HappyEyeballsOrder returns addrs ordered for connection attempts per RFC 8305 section 4:
// the address families interleaved, starting with IPv6 (a "First Address Family Count"
// of one), each family keeping its given order. Duplicates are dropped and IPv4-mapped
// IPv6 addresses count as IPv4. addrs is not modified.
func HappyEyeballsOrder(addrs []netip.Addr) []netip.Addr {
	var v6, v4 []netip.Addr
	for _, a := range addrs {
		if !a.IsValid() || containsAddr(v6, a) || containsAddr(v4, a) {
			continue
		}
		if a.Is4() || a.Is4In6() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	out := make([]netip.Addr, 0, len(v6)+len(v4))
	for i := 0; i < len(v6) || i < len(v4); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out
}
