// Package route53 is a Route 53-style geolocation authoritative DNS server for
// the mock cloud. It answers over UDP and TCP on one loopback address with
// miekg/dns, holds the zones of its Config, and picks among geolocation
// record sets by the client's location the way Amazon Route 53 does.
//
// # Location
//
// A query's location comes from its EDNS Client Subnet option (RFC 7871)
// when that option has a non-zero source prefix length, else from the
// query's source address. Either address is looked up in the Config's
// CIDR → location table (longest prefix wins); an address the table does not
// cover has no location, so only a default ("*") record can answer it.
// With ECS only the first SOURCE PREFIX-LENGTH bits take part in the
// lookup: an entry longer than the source prefix never matches.
//
// The reply to a query with ECS echoes the option. Its SCOPE PREFIX-LENGTH
// is 0 when the answer does not depend on location (a simple record set,
// NXDOMAIN, REFUSED, ...). For a geolocated answer it is the shortest
// prefix length, at least that of the matching table entry, for which every
// address of that network maps to the same location: usually the matching
// entry's length, longer when a more specific table entry lies inside the
// client's network (it may then exceed the source prefix length, which RFC
// 7871 §7.2.1 allows to say "more bits needed"). This is conservative: a
// resolver that caches by scope never hands one location's answer to another.
//
// # Matching and health
//
// Geolocation record sets follow the Route 53 API rules (PROTOCOL.md §4.1):
// a set names a continent, or a country ("*" = default) with an optional US
// state. The most specific match wins: subdivision, country, continent,
// default. Health is kept per set identifier (SetHealthy); one identifier may
// be shared by sets of several names, so marking "us-east-1" unhealthy takes
// that region out of every name at once. An unhealthy set is skipped and the
// choice moves up the hierarchy; when every set that applies to the client
// (its subdivision, country, continent and the default) is unhealthy, the
// one for the smallest of those locations answers, as Route 53 documents
// for geolocation (resource-record-sets-values-geo, PROTOCOL.md §7.3).
// Sets for other locations play no part in that.
//
// Countries are placed on continents by Route 53's own table, not
// GeoNames': TR and XK (Kosovo, accepted as a country code) in EU, TL in OC
// (PROTOCOL.md §7.7).
//
// # Answers
//
// Every answer from a zone is authoritative (AA). A location that no set
// covers gets NOERROR with an empty answer and the zone's SOA in the
// authority section (§4.2 leaves the RCODE open; this follows gdnsd); so
// does a name without records of the asked type, including empty
// non-terminals. A missing name in a zone gets NXDOMAIN with the SOA; a
// name outside every zone, or a class other than IN, gets REFUSED. A CNAME
// answers every query type at its name; with the zone's
// includeTargetRecords the target's records are added when a zone of this
// server holds them (and the RCODE is the target's, RFC 6604). Zone
// transfers, wildcards and delegations are not offered.
//
// # Changing the zones
//
// The zones can change while the server runs: UpdateZones validates new
// zones as a Config and swaps them in whole, so a query sees every change of
// a batch or none. Health flags set with SetHealthy stay with their set
// identifiers across a change. A geolocation set may also name a health
// check (Record.HealthCheckID, AddHealthCheck, SetHealthCheck); it is then
// healthy only while its set identifier is healthy and its check passes.
//
// # Route 53 API
//
// API (NewAPI) serves Route 53's REST-XML API, version 2013-04-01, under
// APIPrefix: CreateHostedZone, GetHostedZone, ListHostedZones,
// ListHostedZonesByName, DeleteHostedZone, ChangeResourceRecordSets,
// ListResourceRecordSets, GetChange, CreateHealthCheck, GetHealthCheck,
// GetHealthCheckStatus, DeleteHealthCheck and TestDNSAnswer, with the
// paths, XML shapes and error document (ErrorResponse, Type Sender) of
// botocore's service model. Record sets are simple or geolocation sets (no
// alias, weighted, latency, failover, multivalue or CIDR routing); a change
// batch is checked change by change against the zone as the batch has left
// it, refused whole with InvalidChangeBatch listing every failed change, and
// served at once. Mutations report their change PENDING, as Route 53 does;
// GetChange says INSYNC. The zones of the Config (the rig file's) are hosted
// zones too, with an ID derived from their name and their SOA listed as a
// record. Health checks are not probed: a check passes until
// API.SetHealthCheckStatus fails it. TestDNSAnswer answers through the same
// code as a DNS query, from the resolver IP given (without one, from a
// resolver in Virginia, as Route 53's tool uses one in us-east-1) and the
// EDNS Client Subnet given. Request signatures are not checked.
//
// Queries with OPT get OPT back (payload size 1232, the DO bit copied);
// EDNS versions above 0 get BADVERS. UDP answers that do not fit the
// client's payload size (512 without EDNS, at most 4096) are truncated with
// TC set, so clients retry over TCP. A non-QUERY opcode gets NOTIMP; a
// query that does not carry exactly one question, carries more than one OPT
// or ECS option, or a malformed ECS option (unknown family, source prefix
// too long, address bits set beyond the prefix, address octets not
// ceil(prefix/8)) gets FORMERR.
package route53
