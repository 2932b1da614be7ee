package route53

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// DefaultAddr is where the server listens when Config.Addr is empty: any free
// port on loopback.
const DefaultAddr = "127.0.0.1:0"

// Default zone values; the SOA ones match what Route 53 puts in a new hosted
// zone, except Minimum (the negative-caching TTL), which is kept short so a
// test rig sees a record appear within a minute.
const (
	DefaultTTL        uint32 = 60
	DefaultSOATTL     uint32 = 900
	DefaultSOASerial  uint32 = 1
	DefaultSOARefresh uint32 = 7200
	DefaultSOARetry   uint32 = 900
	DefaultSOAExpire  uint32 = 1209600
	DefaultSOAMinimum uint32 = 60
)

// maxTTL is the largest TTL RFC 2181 §8 allows.
const maxTTL = 1<<31 - 1

// Config is the whole DNS server: where it listens, the zones it is
// authoritative for and the CIDR → location table that places clients.
type Config struct {
	// Addr is a loopback host:port for both UDP and TCP. Port 0 picks one
	// free port for both. Empty means DefaultAddr.
	Addr string `yaml:"addr"`
	// Zones are the hosted zones; there may be none (a server for an empty
	// account, filled through the API). A name inside several zones belongs
	// to the longest one.
	Zones []Zone `yaml:"zones"`
	// Locations place a client address; the longest matching CIDR wins.
	Locations []Location `yaml:"locations"`
	// WrapPacketConn and WrapListener, if set, wrap the bound UDP socket and TCP
	// listener: mockcloud adds network latency this way (mockcloud/netem). The
	// source address of a query must stay the client's.
	WrapPacketConn func(net.PacketConn) net.PacketConn `yaml:"-"`
	WrapListener   func(net.Listener) net.Listener     `yaml:"-"`
}

// Zone is one hosted zone.
type Zone struct {
	// Name is the apex, e.g. "example.com" (trailing dot optional).
	Name string `yaml:"name"`
	// TTL is used for records whose TTL is 0. Zero means DefaultTTL.
	TTL uint32 `yaml:"ttl"`
	// SOA overrides the generated SOA field by field. A zone may instead
	// carry an SOA record at its apex in Records, but not both.
	SOA SOA `yaml:"soa"`
	// IncludeTargetRecords makes a CNAME answer also carry the records of
	// its target, of the asked type, when a zone of this server holds the
	// target (Route 53 does this for alias records). Off, a CNAME answer
	// holds the CNAME alone and the client resolves the target itself.
	IncludeTargetRecords bool `yaml:"includeTargetRecords"`
	// Records are the record sets of the zone.
	Records []Record `yaml:"records"`
	// Service marks a zone AWS itself serves, such as a region's IoT endpoint
	// names: answered like any other, but not a hosted zone of the account, so
	// the Route 53 API neither lists nor changes it.
	Service bool `yaml:"-"`
}

// SOA holds the zone's start-of-authority values; zero fields take the
// defaults (MName "ns1.<zone>", RName "hostmaster.<zone>", DefaultSOA*).
// Minimum is the negative-caching TTL (RFC 2308).
type SOA struct {
	TTL     uint32 `yaml:"ttl"`
	MName   string `yaml:"mname"`
	RName   string `yaml:"rname"`
	Serial  uint32 `yaml:"serial"`
	Refresh uint32 `yaml:"refresh"`
	Retry   uint32 `yaml:"retry"`
	Expire  uint32 `yaml:"expire"`
	Minimum uint32 `yaml:"minimum"`
}

// Record is one Route 53 resource record set.
type Record struct {
	// Name is a fully qualified name inside the zone (trailing dot
	// optional, any case) or "@" for the apex. Wildcards are not supported.
	Name string `yaml:"name"`
	// Type is one of A, AAAA, CNAME, TXT, MX, SRV, CAA, PTR, NS, SOA.
	// NS and SOA only at the apex (no delegations).
	Type string `yaml:"type"`
	// TTL in seconds; 0 means the zone's TTL.
	TTL uint32 `yaml:"ttl"`
	// Values are the record data in zone-file syntax, one resource record
	// each, as in Route 53's ResourceRecords: TXT values are quoted
	// ("\"v=1 x\""), a CNAME has exactly one value.
	Values []string `yaml:"values"`
	// SetIdentifier tells geolocation record sets of one name and type
	// apart and keys their health (Server.SetHealthy). Required with Geo,
	// not allowed without it.
	SetIdentifier string `yaml:"setIdentifier"`
	// Geo makes this a geolocation record set. All sets of one name and
	// type are geolocation sets or there is exactly one plain set.
	Geo *GeoLocation `yaml:"geo"`
	// HealthCheckID names a Route 53 health check (API.CreateHealthCheck,
	// Server.AddHealthCheck): a geolocation set whose check fails is skipped
	// like one marked unhealthy with SetHealthy. An ID the server does not
	// hold (a deleted check, or one not yet made again after a restart)
	// counts as no health check until a check of that ID exists.
	HealthCheckID string `yaml:"healthCheckId,omitempty"`

	// explicitTTL makes a TTL of 0 mean 0 rather than the zone's TTL; the
	// API sets it, as Route 53 takes TTL 0 literally.
	explicitTTL bool
}

// GeoLocation is Route 53's GeoLocation: a continent, or a country ("*" is
// the default location) with an optional US state.
type GeoLocation struct {
	// Continent is AF, AN, AS, EU, NA, OC or SA; not with Country.
	Continent string `yaml:"continent"`
	// Country is ISO 3166-1 alpha-2 (upper case) or "*" for the default.
	Country string `yaml:"country"`
	// Subdivision is a US state (USPS code, or DC); needs Country "US".
	Subdivision string `yaml:"subdivision"`
}

// Location places the addresses of one CIDR. Give a country (its continent
// follows from the built-in table), a country and a US state, or a
// continent alone.
type Location struct {
	CIDR        string `yaml:"cidr"`
	Continent   string `yaml:"continent"`
	Country     string `yaml:"country"`
	Subdivision string `yaml:"subdivision"`
}

// Validate checks cfg against the Route 53 rules and this server's limits.
// The error joins one *FieldError per problem, each naming its field.
func (c Config) Validate() error {
	_, err := compile(c, compileOptions{})
	return err
}

// problems collects FieldErrors while a config is compiled.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p problems) err() error { return errors.Join(p...) }

func validateAddr(addr string, p *problems) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add("addr", "%q is not host:port: %v", addr, err)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.add("addr", "%q: port %q is not a number 0-65535", addr, port)
	}
	if host == "localhost" {
		return
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() || ip.Zone() != "" {
		p.add("addr", "%q: host must be a loopback IP address (127.0.0.0/8, ::1) or localhost", addr)
	}
}

// validateLocation checks one location table entry and returns what it
// places, continent filled in.
func validateLocation(field string, l Location, p *problems) (netip.Prefix, geoPoint, bool) {
	ok := true
	pfx, err := netip.ParsePrefix(l.CIDR)
	switch {
	case err != nil:
		p.add(field+".cidr", "%q is not a CIDR: %v", l.CIDR, err)
		ok = false
	case pfx.Addr().Zone() != "":
		p.add(field+".cidr", "%q: zones are not allowed", l.CIDR)
		ok = false
	case pfx.Masked() != pfx:
		p.add(field+".cidr", "%q has host bits set; want %s", l.CIDR, pfx.Masked())
		ok = false
	}
	pt := geoPoint{continent: l.Continent, country: l.Country, subdivision: l.Subdivision}
	if l.Continent == "" && l.Country == "" {
		p.add(field, "give a country or a continent")
		return pfx, pt, false
	}
	if l.Continent != "" {
		if _, known := continents[l.Continent]; !known {
			p.add(field+".continent", "%q is not one of AF AN AS EU NA OC SA", l.Continent)
			ok = false
		}
	}
	if l.Country != "" {
		cont, known := countryContinent[l.Country]
		switch {
		case !known:
			p.add(field+".country", "%q is not ISO 3166-1 alpha-2", l.Country)
			ok = false
		case l.Continent == "":
			pt.continent = cont
		case l.Continent != cont:
			p.add(field+".continent", "%q contradicts country %q, which is in %s", l.Continent, l.Country, cont)
			ok = false
		}
	}
	if l.Subdivision != "" {
		switch {
		case l.Country != "US":
			p.add(field+".subdivision", "%q needs country US", l.Subdivision)
			ok = false
		case !usSubdivisions[l.Subdivision]:
			p.add(field+".subdivision", "%q is not a US state code", l.Subdivision)
			ok = false
		}
	}
	return pfx, pt, ok
}

// validateGeo applies the Route 53 GeoLocation rules (PROTOCOL.md §4.1).
func validateGeo(field string, g GeoLocation, p *problems) bool {
	n := len(*p)
	switch {
	case g.Continent != "" && (g.Country != "" || g.Subdivision != ""):
		p.add(field+".continent", "cannot be combined with country or subdivision")
	case g.Continent != "":
		if _, known := continents[g.Continent]; !known {
			p.add(field+".continent", "%q is not one of AF AN AS EU NA OC SA", g.Continent)
		}
	case g.Country == "":
		p.add(field, "give a continent, a country or country \"*\" (default)")
	case g.Country == "*":
		if g.Subdivision != "" {
			p.add(field+".subdivision", "not allowed with the default location \"*\"")
		}
	default:
		if _, known := countryContinent[g.Country]; !known {
			p.add(field+".country", "%q is not ISO 3166-1 alpha-2", g.Country)
		} else if noGeoCountries[g.Country] {
			p.add(field+".country", "%q: Route 53 has no geolocation data for it", g.Country)
		}
		if g.Subdivision != "" {
			if g.Country != "US" {
				p.add(field+".subdivision", "%q needs country US", g.Subdivision)
			} else if !usSubdivisions[g.Subdivision] {
				p.add(field+".subdivision", "%q is not a US state code", g.Subdivision)
			}
		}
	}
	return len(*p) == n
}
