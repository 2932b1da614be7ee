package route53

import (
	"math/bits"
	"net/netip"
	"slices"
)

// geoPoint is where a client is: any of the fields may be empty (a table
// entry that gives a continent only, or no entry at all).
type geoPoint struct {
	continent   string
	country     string
	subdivision string
}

// locTable is the CIDR → location table of one address family.
type locTable struct {
	byPrefix map[netip.Prefix]geoPoint
	// lengths holds the distinct prefix lengths, longest first, so a lookup
	// costs one map probe per length.
	lengths []int
	// prefixes is every entry, for the ECS scope computation.
	prefixes []netip.Prefix
}

// locator holds one table per address family.
type locator struct {
	v4, v6 locTable
}

func (l *locator) add(pfx netip.Prefix, pt geoPoint) {
	t := &l.v6
	if pfx.Addr().Is4() {
		t = &l.v4
	}
	if t.byPrefix == nil {
		t.byPrefix = make(map[netip.Prefix]geoPoint)
	}
	t.byPrefix[pfx] = pt
	t.prefixes = append(t.prefixes, pfx)
	if !slices.Contains(t.lengths, pfx.Bits()) {
		t.lengths = append(t.lengths, pfx.Bits())
		slices.SortFunc(t.lengths, func(a, b int) int { return b - a })
	}
}

func (l *locator) table(a netip.Addr) *locTable {
	if a.Is4() {
		return &l.v4
	}
	return &l.v6
}

// lookup places addr, of which only the first maxBits bits are known (the
// ECS source prefix length, or the full length for a source address). It
// returns the matching entry's prefix length too; found is false when no
// entry covers addr.
func (l *locator) lookup(addr netip.Addr, maxBits int) (pt geoPoint, matchBits int, found bool) {
	t := l.table(addr)
	for _, n := range t.lengths {
		if n > maxBits {
			continue
		}
		pfx, err := addr.Prefix(n)
		if err != nil {
			continue
		}
		if pt, ok := t.byPrefix[pfx]; ok {
			return pt, n, true
		}
	}
	return geoPoint{}, 0, false
}

// scope is the ECS SCOPE PREFIX-LENGTH for an answer chosen by location:
// the shortest length L ≥ matchBits such that addr/L overlaps no table entry
// more specific than the match, i.e. every address of addr/L is placed the
// same way. Entries longer than the source prefix that contain addr push
// the scope past the source prefix ("more bits needed", RFC 7871 §7.2.1).
func (l *locator) scope(addr netip.Addr, matchBits int) int {
	t := l.table(addr)
	scope := matchBits
	for _, e := range t.prefixes {
		if e.Bits() <= matchBits {
			continue
		}
		need := min(commonPrefixLen(e.Addr(), addr)+1, e.Bits())
		scope = max(scope, need)
	}
	return scope
}

// commonPrefixLen counts the leading bits a and b share; both are of one
// family.
func commonPrefixLen(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	first := 0
	if a.Is4() {
		first = 12 // As16 keeps an IPv4 address in the last 4 bytes
	}
	n := 0
	for i := first; i < len(x); i++ {
		if d := x[i] ^ y[i]; d != 0 {
			return n + bits.LeadingZeros8(d)
		}
		n += 8
	}
	return n
}
