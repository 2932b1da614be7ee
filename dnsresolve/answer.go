package dnsresolve

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// MaxChain is the most CNAME links Resolve follows; one more is ErrChainTooLong.
const MaxChain = 8

// link is one CNAME of the chain, names in lower-case FQDN form.
type link struct {
	name, target string
	ttl          uint32
}

// lookup is the state of resolving one name for one address family: the chain found so
// far across replies, and the addresses at its end. It is not safe for concurrent use;
// Resolve runs one per family.
type lookup struct {
	qname  string // lower-case FQDN the chain starts at
	qtype  uint16 // dns.TypeA or dns.TypeAAAA
	links  []link
	addrs  []netip.Addr
	minTTL uint32
	hasTTL bool
}

func newLookup(qname string, qtype uint16) *lookup {
	return &lookup{qname: qname, qtype: qtype}
}

// current is the name the next query must ask: the end of the chain so far.
func (l *lookup) current() string {
	if len(l.links) == 0 {
		return l.qname
	}
	return l.links[len(l.links)-1].target
}

func (l *lookup) ttl(v uint32) {
	if !l.hasTTL || v < l.minTTL {
		l.minTTL, l.hasTTL = v, true
	}
}

// processReply is the whole of answer handling for one reply: it checks that reply
// belongs to query, then follows the CNAME chain inside the answer section from the
// question name, using only records owned by names of the chain, and collects the
// addresses at its end.
//
// It returns next == "" when the lookup is finished with addresses. Otherwise next is the
// chain's current end, which the server named but gave no records for, and the caller
// must query it. Errors are one of the package sentinels: the ones for which another
// server is worth trying (ErrMismatch, ErrServFail, ErrRefused, ErrRcode) leave l
// untouched; the definitive ones (ErrNXDOMAIN, ErrNoData, ErrCNAMELoop, ErrChainTooLong)
// end the lookup.
func (l *lookup) processReply(query, reply *dns.Msg) (next string, err error) {
	if err := checkReply(query, reply); err != nil {
		return "", err
	}
	start := strings.ToLower(reply.Question[0].Name)
	if start != l.current() {
		// The query was not for the end of our chain: a caller bug, never the server's.
		return "", fmt.Errorf("%w: question %s, chain at %s", ErrMismatch, start, l.current())
	}
	if reply.Rcode == dns.RcodeNameError {
		return "", fmt.Errorf("%w: %s", ErrNXDOMAIN, start)
	}

	cur := start
	for {
		cname := findCNAME(reply.Answer, cur)
		if cname == nil {
			break
		}
		if len(l.links) >= MaxChain {
			return "", fmt.Errorf("%w: more than %d links from %s", ErrChainTooLong, MaxChain, l.qname)
		}
		target := strings.ToLower(dns.Fqdn(cname.Target))
		if l.inChain(target) {
			return "", fmt.Errorf("%w: %s points back to %s", ErrCNAMELoop, cur, target)
		}
		l.links = append(l.links, link{name: cur, target: target, ttl: cname.Hdr.Ttl})
		l.ttl(cname.Hdr.Ttl)
		cur = target
	}

	found := false
	for _, rr := range reply.Answer {
		h := rr.Header()
		if h.Rrtype != l.qtype || h.Class != dns.ClassINET || !strings.EqualFold(h.Name, cur) {
			continue
		}
		var a netip.Addr
		var ok bool
		switch v := rr.(type) {
		case *dns.A:
			a, ok = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			a, ok = netip.AddrFromSlice(v.AAAA.To16())
		}
		if !ok {
			continue
		}
		found = true
		l.ttl(h.Ttl)
		if !containsAddr(l.addrs, a) {
			l.addrs = append(l.addrs, a)
		}
	}
	if found {
		return "", nil
	}
	if cur == start || soaCovers(reply.Ns, cur) {
		// Nothing at the question name itself, or the server followed the chain into the
		// target's zone (its SOA in authority, RFC 2308 section 2.2) and found nothing there.
		return "", fmt.Errorf("%w: %s %s", ErrNoData, cur, dns.TypeToString[l.qtype])
	}
	// The server stopped at a target outside its zones: ask for the target itself.
	return cur, nil
}

// checkReply accepts reply only if it answers query: same id, a response to the same
// opcode, exactly the same question (name compared case-insensitively). A reply without
// a question section is accepted only to report a server-side error rcode, which some
// servers send bare. SERVFAIL, REFUSED and other error rcodes except NXDOMAIN are
// returned as errors here.
func checkReply(query, reply *dns.Msg) error {
	if reply == nil || len(query.Question) != 1 {
		return fmt.Errorf("%w: no message", ErrMalformed)
	}
	if reply.Id != query.Id {
		return fmt.Errorf("%w: id %d, want %d", ErrMismatch, reply.Id, query.Id)
	}
	if !reply.Response || reply.Opcode != query.Opcode {
		return fmt.Errorf("%w: not a response to a query", ErrMismatch)
	}
	q := query.Question[0]
	if len(reply.Question) == 0 && reply.Rcode != dns.RcodeSuccess && reply.Rcode != dns.RcodeNameError {
		return rcodeError(reply.Rcode)
	}
	if len(reply.Question) != 1 {
		return fmt.Errorf("%w: %d questions", ErrMismatch, len(reply.Question))
	}
	rq := reply.Question[0]
	if rq.Qtype != q.Qtype || rq.Qclass != q.Qclass || !strings.EqualFold(rq.Name, q.Name) {
		return fmt.Errorf("%w: question %s %s, want %s %s", ErrMismatch,
			rq.Name, dns.TypeToString[rq.Qtype], q.Name, dns.TypeToString[q.Qtype])
	}
	return rcodeError(reply.Rcode)
}

// rcodeError maps a reply code to a sentinel; NOERROR and NXDOMAIN are answers, not
// server errors, and give nil.
func rcodeError(rcode int) error {
	switch rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return nil
	case dns.RcodeServerFailure:
		return ErrServFail
	case dns.RcodeRefused:
		return ErrRefused
	default:
		name, ok := dns.RcodeToString[rcode]
		if !ok {
			name = fmt.Sprint(rcode)
		}
		return fmt.Errorf("%w %s", ErrRcode, name)
	}
}

func (l *lookup) inChain(name string) bool {
	if name == l.qname {
		return true
	}
	for _, lk := range l.links {
		if lk.target == name {
			return true
		}
	}
	return false
}

func findCNAME(answer []dns.RR, owner string) *dns.CNAME {
	for _, rr := range answer {
		if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET && strings.EqualFold(c.Hdr.Name, owner) {
			return c
		}
	}
	return nil
}

// soaCovers reports whether the authority section holds the SOA of a zone containing name.
func soaCovers(ns []dns.RR, name string) bool {
	for _, rr := range ns {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, name) {
			return true
		}
	}
	return false
}

func containsAddr(addrs []netip.Addr, a netip.Addr) bool {
	for _, b := range addrs {
		if a == b {
			return true
		}
	}
	return false
}
