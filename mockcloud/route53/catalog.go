package route53

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// catalog is a compiled Config: read-only after compile except for the
// health flags, which are atomic.
type catalog struct {
	addr   string
	zones  map[string]*zone // by canonical apex
	loc    locator
	health map[string]*atomic.Bool // by set identifier
}

type zone struct {
	name           string // canonical: lower case, trailing dot
	includeTargets bool
	negSOA         *dns.SOA // SOA for the authority section of negative answers
	nodes          map[string]*node
}

// node is one owner name; a node without sets is an empty non-terminal.
type node struct {
	sets map[uint16]*rrset
}

// rrset is every record set of one name and type: one plain set, or
// geolocation sets.
type rrset struct {
	plain []dns.RR
	geo   []*geoSet
	// indexes into geo by location, for the precedence walk
	bySubdivision map[string]*geoSet // "US-CA"
	byCountry     map[string]*geoSet
	byContinent   map[string]*geoSet
	fallback      *geoSet // country "*"
}

type geoSet struct {
	setID   string
	healthy *atomic.Bool // by set identifier (Server.SetHealthy)
	check   *atomic.Bool // the record's health check; nil when it has none
	rrs     []dns.RR
}

// isHealthy reports whether the set may answer: its set identifier is not
// marked unhealthy and its health check, if any, passes.
func (g *geoSet) isHealthy() bool {
	return g.healthy.Load() && (g.check == nil || g.check.Load())
}

// supportedTypes are the record types a Record may have.
var supportedTypes = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "TXT": dns.TypeTXT,
	"MX": dns.TypeMX, "SRV": dns.TypeSRV, "CAA": dns.TypeCAA, "PTR": dns.TypePTR,
	"NS": dns.TypeNS, "SOA": dns.TypeSOA,
}

// compileOptions carry state from a running server into a recompile.
type compileOptions struct {
	// health holds the flags of the previous catalog; a set identifier that
	// is still used keeps its flag, so a recompile keeps what SetHealthy said.
	health map[string]*atomic.Bool
	// checks are the health checks by ID. A record naming one that is not
	// here (deleted since) has no health check.
	checks map[string]*atomic.Bool
}

// compile validates cfg and builds the lookup structures from it, so
// Validate and New can never disagree.
func compile(cfg Config, opts compileOptions) (*catalog, error) {
	var p problems
	c := &catalog{
		addr:   cfg.Addr,
		zones:  make(map[string]*zone, len(cfg.Zones)),
		health: make(map[string]*atomic.Bool),
	}
	if c.addr == "" {
		c.addr = DefaultAddr
	}
	validateAddr(c.addr, &p)

	seenCIDR := make(map[netip.Prefix]int)
	for i, l := range cfg.Locations {
		field := fmt.Sprintf("locations[%d]", i)
		pfx, pt, ok := validateLocation(field, l, &p)
		if !ok {
			continue
		}
		if j, dup := seenCIDR[pfx]; dup {
			p.add(field+".cidr", "%s repeats locations[%d]", pfx, j)
			continue
		}
		seenCIDR[pfx] = i
		c.loc.add(pfx, pt)
	}

	zoneIndex := make(map[string]int)
	for i, zc := range cfg.Zones {
		field := fmt.Sprintf("zones[%d].name", i)
		name, ok := canonicalName(zc.Name)
		switch {
		case zc.Name == "":
			p.add(field, "required")
		case !ok:
			p.add(field, "%q is not a domain name", zc.Name)
		case name == ".":
			p.add(field, "the root zone is not supported")
		default:
			if j, dup := zoneIndex[name]; dup {
				p.add(field, "%q repeats zones[%d]", zc.Name, j)
				continue
			}
			zoneIndex[name] = i
		}
	}
	for i, zc := range cfg.Zones {
		name, _ := canonicalName(zc.Name)
		if j, ok := zoneIndex[name]; !ok || j != i {
			continue
		}
		z := compileZone(fmt.Sprintf("zones[%d]", i), name, zc, zoneIndex, c.health, opts, &p)
		c.zones[name] = z
	}
	if len(p) > 0 {
		return nil, p.err()
	}
	return c, nil
}

// canonicalName lower-cases s and makes it fully qualified.
func canonicalName(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if _, ok := dns.IsDomainName(s); !ok {
		return "", false
	}
	return strings.ToLower(dns.Fqdn(s)), true
}

// zoneOf returns the longest zone in zones that holds name, "" if none.
func zoneOf(name string, has func(string) bool) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if has(name[off:]) {
			return name[off:]
		}
	}
	return ""
}

func compileZone(field, name string, zc Zone, zoneIndex map[string]int, health map[string]*atomic.Bool, opts compileOptions, p *problems) *zone {
	z := &zone{name: name, includeTargets: zc.IncludeTargetRecords, nodes: make(map[string]*node)}
	ttl := zc.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl > maxTTL {
		p.add(field+".ttl", "%d exceeds %d", zc.TTL, maxTTL)
	}
	soa := z.defaultSOA(zc.SOA, field, p)
	soaFromRecord := false
	z.nodes[name] = &node{sets: make(map[uint16]*rrset)}

	type setKey struct {
		name string
		typ  uint16
	}
	firstField := make(map[setKey]string)
	setIDs := make(map[setKey]map[string]string)
	geoKeys := make(map[setKey]map[string]string)

	for i, r := range zc.Records {
		rf := fmt.Sprintf("%s.records[%d]", field, i)
		owner, ok := recordName(r.Name, name)
		if !ok {
			if r.Name == "" {
				p.add(rf+".name", "required")
			} else {
				p.add(rf+".name", "%q is not a domain name inside zone %q", r.Name, strings.TrimSuffix(name, "."))
			}
			continue
		}
		if strings.HasPrefix(owner, "*.") || strings.Contains(owner, ".*.") {
			p.add(rf+".name", "%q: wildcard names are not supported", r.Name)
			continue
		}
		if other := zoneOf(owner, func(s string) bool { _, ok := zoneIndex[s]; return ok }); other != name {
			p.add(rf+".name", "%q belongs to zone %q, which is more specific", r.Name, strings.TrimSuffix(other, "."))
			continue
		}
		typ, ok := supportedTypes[r.Type]
		if !ok {
			p.add(rf+".type", "%q is not one of A AAAA CNAME TXT MX SRV CAA PTR NS SOA (upper case)", r.Type)
			continue
		}
		rttl := r.TTL
		if rttl == 0 && !r.explicitTTL {
			rttl = ttl
		}
		if rttl > maxTTL {
			p.add(rf+".ttl", "%d exceeds %d", r.TTL, maxTTL)
			continue
		}
		switch {
		case typ == dns.TypeSOA || typ == dns.TypeNS:
			if owner != name {
				p.add(rf+".name", "%s records only at the zone apex (delegations are not supported)", r.Type)
				continue
			}
			if r.Geo != nil || r.SetIdentifier != "" {
				p.add(rf+".geo", "%s records cannot be geolocation records", r.Type)
				continue
			}
		case typ == dns.TypeCNAME && owner == name:
			p.add(rf+".type", "CNAME not allowed at the zone apex")
			continue
		}
		if len(r.Values) == 0 {
			p.add(rf+".values", "at least one value is needed")
			continue
		}
		if (typ == dns.TypeCNAME || typ == dns.TypeSOA) && len(r.Values) != 1 {
			p.add(rf+".values", "a %s record has exactly one value, got %d", r.Type, len(r.Values))
			continue
		}
		rrs := make([]dns.RR, 0, len(r.Values))
		bad := false
		for j, v := range r.Values {
			rr, err := parseValue(owner, rttl, r.Type, typ, v)
			if err != nil {
				p.add(fmt.Sprintf("%s.values[%d]", rf, j), "%v", err)
				bad = true
				continue
			}
			rrs = append(rrs, rr)
		}
		if bad {
			continue
		}
		if typ == dns.TypeSOA {
			if zc.SOA != (SOA{}) {
				p.add(rf, "the zone has soa settings; give the SOA once")
				continue
			}
			soa = rrs[0].(*dns.SOA)
			soaFromRecord = true
		}

		key := setKey{owner, typ}
		n := z.addNode(owner)
		set := n.sets[key.typ]
		if set == nil {
			set = &rrset{}
			n.sets[key.typ] = set
			firstField[key] = rf
		} else if (set.plain != nil) || (r.Geo == nil) {
			p.add(rf, "repeats the %s %s record set of %s; a name and type have one plain set or only geolocation sets",
				strings.TrimSuffix(owner, "."), r.Type, firstField[key])
			continue
		}
		if r.Geo == nil {
			if r.SetIdentifier != "" {
				p.add(rf+".setIdentifier", "only geolocation records take a set identifier")
				continue
			}
			set.plain = rrs
			continue
		}
		if r.SetIdentifier == "" || len(r.SetIdentifier) > 128 {
			p.add(rf+".setIdentifier", "a geolocation record needs a set identifier of 1-128 characters")
			continue
		}
		if !validateGeo(rf+".geo", *r.Geo, p) {
			continue
		}
		if setIDs[key] == nil {
			setIDs[key], geoKeys[key] = make(map[string]string), make(map[string]string)
		}
		if prev, dup := setIDs[key][r.SetIdentifier]; dup {
			p.add(rf+".setIdentifier", "%q repeats %s", r.SetIdentifier, prev)
			continue
		}
		gk := r.Geo.Continent + "/" + r.Geo.Country + "/" + r.Geo.Subdivision
		if prev, dup := geoKeys[key][gk]; dup {
			p.add(rf+".geo", "same location as %s", prev)
			continue
		}
		setIDs[key][r.SetIdentifier], geoKeys[key][gk] = rf, rf
		h := health[r.SetIdentifier]
		if h == nil {
			h = opts.health[r.SetIdentifier]
			if h == nil {
				h = new(atomic.Bool)
				h.Store(true)
			}
			health[r.SetIdentifier] = h
		}
		var check *atomic.Bool
		if r.HealthCheckID != "" {
			check = opts.checks[r.HealthCheckID]
		}
		set.addGeo(*r.Geo, &geoSet{setID: r.SetIdentifier, healthy: h, check: check, rrs: rrs})
	}

	// A CNAME owns its name (RFC 1034 §3.6.2).
	for owner, n := range z.nodes {
		if _, ok := n.sets[dns.TypeCNAME]; ok && len(n.sets) > 1 {
			p.add(firstField[setKey{owner, dns.TypeCNAME}], "%s has a CNAME and other records", strings.TrimSuffix(owner, "."))
		}
	}

	if !soaFromRecord {
		n := z.nodes[name]
		n.sets[dns.TypeSOA] = &rrset{plain: []dns.RR{soa}}
	}
	neg := *soa
	neg.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl) // RFC 2308 §3
	z.negSOA = &neg
	return z
}

// defaultSOA builds the zone's SOA from its settings and the defaults.
func (z *zone) defaultSOA(s SOA, field string, p *problems) *dns.SOA {
	pick := func(v, def uint32) uint32 {
		if v == 0 {
			return def
		}
		return v
	}
	mname, rname := "ns1."+z.name, "hostmaster."+z.name
	if s.MName != "" {
		if n, ok := canonicalName(s.MName); ok {
			mname = n
		} else {
			p.add(field+".soa.mname", "%q is not a domain name", s.MName)
		}
	}
	if s.RName != "" {
		if n, ok := canonicalName(s.RName); ok {
			rname = n
		} else {
			p.add(field+".soa.rname", "%q is not a domain name", s.RName)
		}
	}
	if s.TTL > maxTTL {
		p.add(field+".soa.ttl", "%d exceeds %d", s.TTL, maxTTL)
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: pick(s.TTL, DefaultSOATTL)},
		Ns:      mname,
		Mbox:    rname,
		Serial:  pick(s.Serial, DefaultSOASerial),
		Refresh: pick(s.Refresh, DefaultSOARefresh),
		Retry:   pick(s.Retry, DefaultSOARetry),
		Expire:  pick(s.Expire, DefaultSOAExpire),
		Minttl:  pick(s.Minimum, DefaultSOAMinimum),
	}
}

// addNode returns the node of owner, creating it and its empty
// non-terminal ancestors up to the apex.
func (z *zone) addNode(owner string) *node {
	n := z.nodes[owner]
	if n == nil {
		n = &node{}
		z.nodes[owner] = n
	}
	if n.sets == nil {
		n.sets = make(map[uint16]*rrset)
	}
	if owner == z.name {
		return n
	}
	for off, end := dns.NextLabel(owner, 0); !end; off, end = dns.NextLabel(owner, off) {
		parent := owner[off:]
		if parent == z.name {
			break
		}
		if z.nodes[parent] == nil {
			z.nodes[parent] = &node{}
		}
	}
	return n
}

func (s *rrset) addGeo(g GeoLocation, gs *geoSet) {
	s.geo = append(s.geo, gs)
	switch {
	case g.Continent != "":
		if s.byContinent == nil {
			s.byContinent = make(map[string]*geoSet)
		}
		s.byContinent[g.Continent] = gs
	case g.Country == "*":
		s.fallback = gs
	case g.Subdivision != "":
		if s.bySubdivision == nil {
			s.bySubdivision = make(map[string]*geoSet)
		}
		s.bySubdivision[g.Country+"-"+g.Subdivision] = gs
	default:
		if s.byCountry == nil {
			s.byCountry = make(map[string]*geoSet)
		}
		s.byCountry[g.Country] = gs
	}
}

// recordName resolves a record's name ("@" = apex) against zone and checks
// it lies inside it.
func recordName(s, zone string) (string, bool) {
	if s == "@" {
		return zone, true
	}
	n, ok := canonicalName(s)
	if !ok || !dns.IsSubDomain(zone, n) {
		return "", false
	}
	return n, true
}

// parseValue reads one value in zone-file syntax into an RR of the record's
// type.
func parseValue(owner string, ttl uint32, typName string, typ uint16, value string) (dns.RR, error) {
	if strings.TrimSpace(value) == "" {
		return nil, fmt.Errorf("empty value")
	}
	if strings.ContainsAny(value, "\n\r;()") && typ != dns.TypeTXT {
		return nil, fmt.Errorf("%q: one value per entry, no comments or parentheses", value)
	}
	if strings.ContainsAny(value, "\n\r") {
		return nil, fmt.Errorf("%q: line breaks not allowed", value)
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", owner, ttl, typName, value))
	if err != nil {
		return nil, fmt.Errorf("%q is not %s record data: %w", value, typName, err)
	}
	if rr == nil || rr.Header().Rrtype != typ {
		return nil, fmt.Errorf("%q is not %s record data", value, typName)
	}
	return rr, nil
}
