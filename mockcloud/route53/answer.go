package route53

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

const (
	// advertisedUDPSize is the payload size put in our OPT record, the DNS
	// flag day 2020 value.
	advertisedUDPSize = 1232
	// maxUDPSize caps what a client's OPT may ask for.
	maxUDPSize = dns.DefaultMsgSize
	// maxChase bounds CNAME chasing for includeTargetRecords.
	maxChase = 8
)

// placement is the client's location, worked out on first use so queries
// that never meet a geolocation set skip the table lookup.
type placement struct {
	cat     *catalog
	addr    netip.Addr
	maxBits int

	done      bool
	used      bool
	pt        geoPoint
	matchBits int
	found     bool
}

func (p *placement) get() (geoPoint, bool) {
	p.used = true
	if !p.done {
		p.done = true
		if p.addr.IsValid() {
			p.pt, p.matchBits, p.found = p.cat.loc.lookup(p.addr, p.maxBits)
		}
	}
	return p.pt, p.found
}

// answer builds the reply to r, which came from src over UDP or TCP. It
// returns nil when r must not be answered (it is itself a response).
func (c *catalog) answer(r *dns.Msg, src netip.Addr, udp bool) *dns.Msg {
	return c.answerFrom(r, src, udp, nil)
}

// answerFrom is answer with the source placed at at, not by the location
// table, when at is set and the query has no ECS (TestDNSAnswer's default
// resolver).
func (c *catalog) answerFrom(r *dns.Msg, src netip.Addr, udp bool, at *geoPoint) *dns.Msg {
	if r == nil || r.Response {
		return nil
	}
	m := new(dns.Msg)
	m.Id = r.Id
	m.Response = true
	m.Opcode = r.Opcode
	m.RecursionDesired = r.RecursionDesired
	m.CheckingDisabled = r.CheckingDisabled
	m.Question = slices.Clone(r.Question)

	size := dns.MaxMsgSize
	if udp {
		size = dns.MinMsgSize
	}
	if r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return finish(m, nil, size)
	}
	var opt *dns.OPT
	for _, rr := range r.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt != nil { // RFC 6891 §6.1.1
				m.Rcode = dns.RcodeFormatError
				return finish(m, nil, size)
			}
			opt = o
		}
	}
	if opt != nil && udp {
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
	}
	var ropt *dns.OPT
	if opt != nil {
		ropt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		ropt.SetUDPSize(advertisedUDPSize)
		if opt.Do() {
			ropt.SetDo() // RFC 3225 §3: copy DO
		}
		if opt.Version() != 0 {
			m.Rcode = dns.RcodeBadVers
			return finish(m, ropt, size)
		}
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return finish(m, ropt, size)
	}
	cs, err := queryECS(opt)
	if err != nil {
		m.Rcode = dns.RcodeFormatError
		return finish(m, ropt, size)
	}

	pl := placement{cat: c, addr: src.Unmap(), maxBits: src.Unmap().BitLen()}
	switch {
	case cs != nil && cs.bits > 0:
		pl.addr, pl.maxBits = cs.addr, cs.bits
	case at != nil:
		pl.done, pl.pt, pl.found = true, *at, true
	}
	c.resolve(m, r.Question[0], &pl)

	if cs != nil {
		scope := 0
		if pl.used && cs.bits > 0 {
			scope = c.loc.scope(cs.addr, pl.matchBits)
		}
		ropt.Option = append(ropt.Option, cs.reply(scope))
	}
	return finish(m, ropt, size)
}

// finish adds the OPT record and fits the reply into size, the client's UDP
// payload size (512 without EDNS) or the TCP maximum: a reply that does not
// fit loses records and gets TC, so the client retries over TCP.
func finish(m *dns.Msg, ropt *dns.OPT, size int) *dns.Msg {
	if ropt != nil {
		m.Extra = append(m.Extra, ropt)
	}
	m.Truncate(size)
	return m
}

// resolve fills the answer or the negative answer for q into m.
func (c *catalog) resolve(m *dns.Msg, q dns.Question, pl *placement) {
	if q.Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeRefused
		return
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		m.Rcode = dns.RcodeRefused // zone transfers are not offered
		return
	}
	owner := dns.Fqdn(q.Name)
	name := strings.ToLower(owner)
	z := c.findZone(name)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	visited := map[string]bool{}
	for hop := 0; ; hop++ {
		visited[name] = true
		n := z.nodes[name]
		if n == nil {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{z.negSOA}
			return
		}
		if cn := n.sets[dns.TypeCNAME]; cn != nil && q.Qtype != dns.TypeCNAME {
			rrs := c.pick(cn, pl)
			if len(rrs) == 0 {
				m.Ns = []dns.RR{z.negSOA}
				return
			}
			m.Answer = appendOwned(m.Answer, rrs, owner)
			if !z.includeTargets || hop+1 >= maxChase {
				return
			}
			owner = dns.Fqdn(rrs[0].(*dns.CNAME).Target)
			name = strings.ToLower(owner)
			if visited[name] {
				return
			}
			if z = c.findZone(name); z == nil {
				return
			}
			continue
		}
		var rrs []dns.RR
		if q.Qtype == dns.TypeANY {
			for _, t := range sortedTypes(n) {
				rrs = append(rrs, c.pick(n.sets[t], pl)...)
			}
		} else if set := n.sets[q.Qtype]; set != nil {
			rrs = c.pick(set, pl)
		}
		if len(rrs) == 0 {
			m.Ns = []dns.RR{z.negSOA}
			return
		}
		m.Answer = appendOwned(m.Answer, rrs, owner)
		return
	}
}

// pick returns the records of set for the client: the plain set, or the
// healthy geolocation set that matches most specifically (subdivision,
// country, continent, default). When every set that applies to the client
// is unhealthy, Route 53 answers with the one for the smallest location
// (resource-record-sets-values-geo, PROTOCOL.md §7.3); sets for other
// locations never take part in that judgement.
func (c *catalog) pick(set *rrset, pl *placement) []dns.RR {
	if set.geo == nil {
		return set.plain
	}
	pt, found := pl.get()
	applicable := make([]*geoSet, 0, 4)
	if found {
		if pt.subdivision != "" {
			if g := set.bySubdivision[pt.country+"-"+pt.subdivision]; g != nil {
				applicable = append(applicable, g)
			}
		}
		if pt.country != "" {
			if g := set.byCountry[pt.country]; g != nil {
				applicable = append(applicable, g)
			}
		}
		if g := set.byContinent[pt.continent]; g != nil {
			applicable = append(applicable, g)
		}
	}
	if set.fallback != nil {
		applicable = append(applicable, set.fallback)
	}
	if len(applicable) == 0 {
		return nil
	}
	for _, g := range applicable {
		if g.isHealthy() {
			return g.rrs
		}
	}
	return applicable[0].rrs
}

// findZone returns the longest zone holding name (canonical), nil if none.
func (c *catalog) findZone(name string) *zone {
	if z := zoneOf(name, func(s string) bool { _, ok := c.zones[s]; return ok }); z != "" {
		return c.zones[z]
	}
	return nil
}

// appendOwned appends rrs to dst under owner, the name as the client
// spelled it (resolvers using 0x20 case randomisation compare it). The
// shared records are copied only when the spelling differs.
func appendOwned(dst, rrs []dns.RR, owner string) []dns.RR {
	for _, rr := range rrs {
		if rr.Header().Name != owner {
			rr = dns.Copy(rr)
			rr.Header().Name = owner
		}
		dst = append(dst, rr)
	}
	return dst
}

func sortedTypes(n *node) []uint16 {
	ts := make([]uint16, 0, len(n.sets))
	for t := range n.sets {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}
