package route53

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// ECS address families (RFC 7871 §6, IANA address family numbers).
const (
	ecsFamilyNone = 0 // what dig sends for +subnet=0
	ecsFamilyIPv4 = 1
	ecsFamilyIPv6 = 2
)

// clientSubnet is the validated ECS option of a query.
type clientSubnet struct {
	family uint16
	addr   netip.Addr // masked to bits
	bits   int        // SOURCE PREFIX-LENGTH
}

// queryECS returns the query's ECS option, nil when it has none. More than
// one ECS option, or one RFC 7871 calls malformed, is an errMalformedECS.
func queryECS(opt *dns.OPT) (*clientSubnet, error) {
	if opt == nil {
		return nil, nil
	}
	var found *dns.EDNS0_SUBNET
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%w: more than one", errMalformedECS)
		}
		found = e
	}
	if found == nil {
		return nil, nil
	}
	return parseECS(found)
}

// parseECS validates an option as miekg/dns decoded it. The octet count of
// the address is gone by then; poisonMalformedECS checks it on the wire.
func parseECS(e *dns.EDNS0_SUBNET) (*clientSubnet, error) {
	cs := &clientSubnet{family: e.Family, bits: int(e.SourceNetmask)}
	var addr netip.Addr
	switch e.Family {
	case ecsFamilyNone:
		if e.SourceNetmask != 0 {
			return nil, fmt.Errorf("%w: family 0 with source prefix %d", errMalformedECS, e.SourceNetmask)
		}
		return cs, nil
	case ecsFamilyIPv4:
		ip4 := e.Address.To4()
		if ip4 == nil {
			return nil, fmt.Errorf("%w: family 1 without an IPv4 address", errMalformedECS)
		}
		addr = netip.AddrFrom4([4]byte(ip4))
	case ecsFamilyIPv6:
		ip16 := e.Address.To16()
		if ip16 == nil {
			return nil, fmt.Errorf("%w: family 2 without an IPv6 address", errMalformedECS)
		}
		addr = netip.AddrFrom16([16]byte(ip16))
	default:
		return nil, fmt.Errorf("%w: unknown family %d", errMalformedECS, e.Family)
	}
	if cs.bits > addr.BitLen() {
		return nil, fmt.Errorf("%w: source prefix %d too long for family %d", errMalformedECS, cs.bits, e.Family)
	}
	pfx, err := addr.Prefix(cs.bits)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedECS, err)
	}
	if pfx.Addr() != addr {
		return nil, fmt.Errorf("%w: address bits set beyond source prefix %d", errMalformedECS, cs.bits)
	}
	cs.addr = addr
	return cs, nil
}

// reply is the option echoed in the answer (RFC 7871 §7.2.1): the query's
// family, prefix and address with the given scope.
func (cs *clientSubnet) reply(scope int) *dns.EDNS0_SUBNET {
	e := &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        cs.family,
		SourceNetmask: uint8(cs.bits),
		SourceScope:   uint8(scope),
	}
	switch {
	case cs.addr.Is4():
		e.Address = net.IP(cs.addr.AsSlice())
	case cs.addr.IsValid():
		b := cs.addr.As16()
		e.Address = net.IP(b[:])
	default:
		e.Address = net.IPv4zero
	}
	return e
}

// ecsWireError checks one ECS option's data as it came off the wire; it
// catches what miekg/dns accepts silently: too few or too many address
// octets and bits set beyond the source prefix (RFC 7871 §6).
func ecsWireError(data []byte) error {
	if len(data) < 4 {
		return fmt.Errorf("%w: %d octets", errMalformedECS, len(data))
	}
	family := binary.BigEndian.Uint16(data)
	source := int(data[2])
	addr := data[4:]
	var maxBits int
	switch family {
	case ecsFamilyNone:
		maxBits = 0
	case ecsFamilyIPv4:
		maxBits = 32
	case ecsFamilyIPv6:
		maxBits = 128
	default:
		return fmt.Errorf("%w: unknown family %d", errMalformedECS, family)
	}
	if source > maxBits {
		return fmt.Errorf("%w: source prefix %d too long for family %d", errMalformedECS, source, family)
	}
	if want := (source + 7) / 8; len(addr) != want {
		return fmt.Errorf("%w: %d address octets for source prefix %d, want %d", errMalformedECS, len(addr), source, want)
	}
	if rest := source % 8; rest != 0 && addr[len(addr)-1]&(0xFF>>rest) != 0 {
		return fmt.Errorf("%w: address bits set beyond source prefix %d", errMalformedECS, source)
	}
	return nil
}

// poisonMalformedECS finds the ECS options of a raw query and overwrites the
// family of each malformed one with 0xFFFF. miekg/dns then fails to unpack
// the query and its server answers FORMERR, which RFC 7871 asks for; the
// handler only ever sees the decoded option, whose octet count is lost. It
// reports whether it changed msg. Messages it cannot walk are left alone for
// the decoder to reject.
func poisonMalformedECS(msg []byte) bool {
	poisoned := false
	walkOptions(msg, func(code uint16, off, n int) {
		if code != dns.EDNS0SUBNET || ecsWireError(msg[off:off+n]) == nil {
			return
		}
		if n >= 2 {
			msg[off], msg[off+1] = 0xFF, 0xFF
			poisoned = true
		}
	})
	return poisoned
}

// walkOptions calls fn for each EDNS option of the OPT records in the
// additional section of msg, with the offset and length of its data.
func walkOptions(msg []byte, fn func(code uint16, off, n int)) {
	const headerLen = 12
	if len(msg) < headerLen {
		return
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))
	off := headerLen
	for range qd {
		if off = skipName(msg, off); off < 0 || off+4 > len(msg) {
			return
		}
		off += 4
	}
	for i := range an + ns + ar {
		if off = skipName(msg, off); off < 0 || off+10 > len(msg) {
			return
		}
		typ := binary.BigEndian.Uint16(msg[off:])
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		end := off + rdlen
		if end > len(msg) {
			return
		}
		if i >= an+ns && typ == dns.TypeOPT {
			for o := off; o+4 <= end; {
				code := binary.BigEndian.Uint16(msg[o:])
				n := int(binary.BigEndian.Uint16(msg[o+2:]))
				o += 4
				if o+n > end {
					break
				}
				fn(code, o, n)
				o += n
			}
		}
		off = end
	}
}

// skipName returns the offset after the domain name at off, or -1.
func skipName(msg []byte, off int) int {
	for off < len(msg) {
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		default:
			return -1
		}
	}
	return -1
}

// ecsGuard is a dns.Reader that runs poisonMalformedECS on every query
// before miekg/dns decodes it.
type ecsGuard struct {
	dns.Reader
}

func (g ecsGuard) ReadUDP(conn *net.UDPConn, timeout time.Duration) ([]byte, *dns.SessionUDP, error) {
	m, s, err := g.Reader.ReadUDP(conn, timeout)
	if err == nil {
		poisonMalformedECS(m)
	}
	return m, s, err
}

func (g ecsGuard) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	m, err := g.Reader.ReadTCP(conn, timeout)
	if err == nil {
		poisonMalformedECS(m)
	}
	return m, err
}
