package dnstest

import (
	"strings"

	"github.com/miekg/dns"
)

// Zone is an authoritative handler over a fixed record set. The zero value answers
// NXDOMAIN to everything.
//
// A query for a name with a CNAME gets the CNAME; with Chase the server also follows the
// chain through its own records (each name once, so loops stay finite) and adds the
// target's records, as an authoritative server does for in-zone targets; without Chase
// the answer stops at the first CNAME, as for a target in another zone. A name with
// records but none of the asked type gets NODATA, with SOA in authority when the zone has
// one; an unknown name gets NXDOMAIN.
type Zone struct {
	Records []dns.RR
	Chase   bool
}

// NewZone parses records in zone-file syntax ("a.example. 60 IN CNAME b.example.").
// It panics on a bad record: zones are test fixtures.
func NewZone(chase bool, records ...string) *Zone {
	z := &Zone{Chase: chase}
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic("dnstest: bad record " + s + ": " + err.Error())
		}
		z.Records = append(z.Records, rr)
	}
	return z
}

// Answer builds the reply to r without writing it.
func (z *Zone) Answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := r.Question[0]
	name := q.Name
	if !z.has(name) {
		m.Rcode = dns.RcodeNameError
		z.addSOA(m, name)
		return m
	}
	seen := map[string]bool{}
	for !seen[strings.ToLower(name)] {
		seen[strings.ToLower(name)] = true
		var cname *dns.CNAME
		found := false
		for _, rr := range z.Records {
			h := rr.Header()
			if !strings.EqualFold(h.Name, name) {
				continue
			}
			if c, ok := rr.(*dns.CNAME); ok && q.Qtype != dns.TypeCNAME {
				cname = c
				m.Answer = append(m.Answer, dns.Copy(rr))
			} else if h.Rrtype == q.Qtype {
				found = true
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		switch {
		case cname == nil:
			if !found {
				z.addSOA(m, name) // NODATA
			}
			return m
		case !z.Chase || !z.has(cname.Target):
			return m
		}
		name = cname.Target
	}
	return m
}

// ServeDNS implements dns.Handler. Over UDP a reply larger than the client's buffer
// (512 bytes, or its EDNS0 size) is truncated with the TC bit set.
func (z *Zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := z.Answer(r)
	if w.LocalAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

func (z *Zone) has(name string) bool {
	for _, rr := range z.Records {
		if strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// addSOA puts the SOA of the zone containing name in authority (negative answers).
func (z *Zone) addSOA(m *dns.Msg, name string) {
	for _, rr := range z.Records {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, name) {
			m.Ns = append(m.Ns, dns.Copy(soa))
			return
		}
	}
}

// Rcode answers every query with rcode and nothing else.
func Rcode(rcode int) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		_ = w.WriteMsg(m)
	}
}

// Drop never answers: the client times out.
func Drop() dns.HandlerFunc {
	return func(dns.ResponseWriter, *dns.Msg) {}
}

// Truncate answers UDP queries with an empty reply with the TC bit set, and passes TCP
// queries to h.
func Truncate(h dns.Handler) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		if w.LocalAddr().Network() == "tcp" {
			h.ServeDNS(w, r)
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		_ = w.WriteMsg(m)
	}
}

// Rewrite passes h's reply through edit before it is written: the way to send replies
// with a wrong id, a wrong question or any other defect.
func Rewrite(h dns.Handler, edit func(reply *dns.Msg)) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		h.ServeDNS(&rewriter{ResponseWriter: w, edit: edit}, r)
	}
}

type rewriter struct {
	dns.ResponseWriter
	edit func(*dns.Msg)
}

func (rw *rewriter) WriteMsg(m *dns.Msg) error {
	rw.edit(m)
	return rw.ResponseWriter.WriteMsg(m)
}

// WrongQuestion answers as h would, but for another name.
func WrongQuestion(h dns.Handler) dns.HandlerFunc {
	return Rewrite(h, func(m *dns.Msg) {
		if len(m.Question) > 0 {
			m.Question[0].Name = "wrong." + m.Question[0].Name
		}
	})
}

// WrongID answers as h would, with another message id.
func WrongID(h dns.Handler) dns.HandlerFunc {
	return Rewrite(h, func(m *dns.Msg) { m.Id++ })
}

// Raw answers every query with the given bytes, the first two replaced by the query's
// id: the way to send malformed messages.
func Raw(b []byte) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		out := append([]byte(nil), b...)
		if len(out) >= 2 {
			out[0], out[1] = byte(r.Id>>8), byte(r.Id)
		}
		_, _ = w.Write(out)
	}
}
