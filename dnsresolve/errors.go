package dnsresolve

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by Resolve wraps one of them (several when both
// address families failed differently), so callers decide with errors.Is, never by text.
var (
	// ErrNXDOMAIN: the name (or the end of its CNAME chain) does not exist. Definitive.
	ErrNXDOMAIN = errors.New("dns: name does not exist (NXDOMAIN)")
	// ErrNoData: the name exists but has neither A nor AAAA records at the end of its chain
	// (NOERROR, empty answer). A geolocation zone without a default record answers this way
	// for an uncovered location. Definitive.
	ErrNoData = errors.New("dns: no address records (NODATA)")
	// ErrServFail: the server answered SERVFAIL. Transient.
	ErrServFail = errors.New("dns: server failure (SERVFAIL)")
	// ErrRefused: the server refused the query (REFUSED). The server's policy: the next
	// server is tried, but REFUSED alone is not transient.
	ErrRefused = errors.New("dns: query refused (REFUSED)")
	// ErrRcode: any other error rcode (FORMERR, NOTIMP, ...).
	ErrRcode = errors.New("dns: unexpected rcode")
	// ErrTimeout: no reply within the per-attempt timeout (or the context deadline). Transient.
	ErrTimeout = errors.New("dns: timeout")
	// ErrNetwork: the query could not be sent or the connection failed. Transient.
	ErrNetwork = errors.New("dns: network error")
	// ErrMismatch: a reply whose id, question or header does not belong to the query. Treated
	// as a failure of that server (spoofed or broken middlebox). Transient.
	ErrMismatch = errors.New("dns: reply does not match query")
	// ErrMalformed: a reply that does not parse as a DNS message. Transient.
	ErrMalformed = errors.New("dns: malformed reply")
	// ErrCNAMELoop: the CNAME chain comes back to a name already in it.
	ErrCNAMELoop = errors.New("dns: CNAME loop")
	// ErrChainTooLong: more than MaxChain CNAME links.
	ErrChainTooLong = errors.New("dns: CNAME chain too long")
	// ErrNoServers: no server configured and none found in resolv.conf (which is read on
	// every Resolve, so a file written later by DHCP is picked up). Transient.
	ErrNoServers = errors.New("dns: no servers")
	// ErrNoRegion: the chain has addresses but no name on it is an AWS IoT endpoint name
	// (RegionFromName), so nothing says which region they are in, and Config.Region
	// names none either: a custom domain pointing somewhere else than AWS IoT, or an
	// answer not from AWS at all (a captive portal, a rewriting resolver). The message
	// holds the chain. Transient: a network that rewrote the answer may stop doing so, and
	// ResolveCached covers it with the last result that named a region.
	ErrNoRegion = errors.New("dns: no AWS IoT region on the CNAME chain")
	// ErrRegionMismatch: the chain's region (RegionFromName of its last AWS IoT endpoint
	// name) is not Config.Region. The addresses are that other region's. Definitive.
	ErrRegionMismatch = errors.New("dns: CNAME chain leads to another region than configured")
	// ErrInvalidName: the name to resolve is not a valid domain name.
	ErrInvalidName = errors.New("dns: invalid name")
	// ErrInvalidConfig: Config failed validation in New.
	ErrInvalidConfig = errors.New("dns: invalid config")
)

// QueryError is the failure of one query for one name at one server. It unwraps to a
// sentinel above, so errors.Is(err, ErrServFail) works through it.
type QueryError struct {
	Name   string // the name queried (a link of the chain, not always the name asked)
	Type   string // "A" or "AAAA"
	Server string // host:port; empty when no server was reached
	Err    error
}

func (e *QueryError) Error() string {
	if e.Server == "" {
		return fmt.Sprintf("resolve %s %s: %v", e.Name, e.Type, e.Err)
	}
	return fmt.Sprintf("resolve %s %s at %s: %v", e.Name, e.Type, e.Server, e.Err)
}

func (e *QueryError) Unwrap() error { return e.Err }

// RegionError is a resolution whose addresses were found but whose region was refused:
// it unwraps to ErrNoRegion or ErrRegionMismatch. The fields say what the DNS answered.
type RegionError struct {
	Query  string // the name asked
	Chain  []Link // the CNAME links from Query to Name; empty without aliases
	Name   string // the end of the chain, which the addresses belong to
	Region string // the chain's region; "" with ErrNoRegion
	Want   string // Config.Region; "" when none is configured
	Err    error
}

func (e *RegionError) Error() string {
	chain := e.Query
	for _, l := range e.Chain {
		chain += " -> " + l.Target
	}
	if e.Want != "" && e.Region != "" {
		return fmt.Sprintf("resolve %s: %v: %s is in %s, want %s", e.Query, e.Err, chain, e.Region, e.Want)
	}
	return fmt.Sprintf("resolve %s: %v: %s", e.Query, e.Err, chain)
}

func (e *RegionError) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying later or covering with a stale
// answer: some server timed out, answered SERVFAIL, could not be reached, or sent a
// mismatched or malformed reply, or resolv.conf listed no server (DHCP clients rewrite it
// in place), or the answer named no AWS IoT region (ErrNoRegion), and no server gave a
// definitive answer about the name (NXDOMAIN, NODATA, a CNAME loop, a chain too long,
// another region than configured). REFUSED and other error rcodes alone
// are not transient (they are the server's policy), nor is a cancelled context. For a
// joined error (several servers, both families) the parts are considered together.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	for _, definitive := range []error{ErrNXDOMAIN, ErrNoData, ErrCNAMELoop, ErrChainTooLong,
		ErrRegionMismatch, ErrInvalidName, ErrInvalidConfig} {
		if errors.Is(err, definitive) {
			return false
		}
	}
	for _, transient := range []error{ErrTimeout, ErrServFail, ErrNetwork, ErrMismatch, ErrMalformed,
		ErrNoServers, ErrNoRegion} {
		if errors.Is(err, transient) {
			return true
		}
	}
	return false
}
