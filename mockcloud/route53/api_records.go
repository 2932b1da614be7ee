package route53

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// rrTypes is Route 53's RRType enumeration; supportedTypes are the ones the
// mock serves.
var rrTypes = []string{"SOA", "A", "TXT", "NS", "CNAME", "MX", "NAPTR", "PTR", "SRV", "SPF", "AAAA", "CAA", "DS"}

// fieldProblems lists the problems of a Config error, or its text.
func fieldProblems(err error) string {
	var msgs []string
	var walk func(error)
	walk = func(e error) {
		var fe *FieldError
		if errors.As(e, &fe) && fe == e {
			msgs = append(msgs, fe.Problem)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if u := errors.Unwrap(e); u != nil {
			walk(u)
			return
		}
		msgs = append(msgs, e.Error())
	}
	walk(err)
	return strings.Join(msgs, "; ")
}

// change is one validated Change of a batch.
type change struct {
	action string
	rec    Record // Name canonical
}

// describe is how Route 53 names a record set in change messages:
// [name='a.example.com.', type='A', set-identifier='us'].
func (r Record) describe() string {
	s := fmt.Sprintf("[name='%s', type='%s'", r.Name, r.Type)
	if r.SetIdentifier != "" {
		s += fmt.Sprintf(", set-identifier='%s'", r.SetIdentifier)
	}
	return s + "]"
}

// changeContext is Route 53's "in Change with [...]" suffix of an
// InvalidInput message.
func changeContext(action, name, typ string, setID *string) string {
	id := "null"
	if setID != nil {
		id = *setID
	}
	return fmt.Sprintf("in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]", action, name, typ, id)
}

// parseChange checks one Change the way Route 53 does before it looks at
// the zone; the errors are InvalidInput (or NoSuchHealthCheck). Value
// problems go into msgs, which become InvalidChangeBatch.
func (a *API) parseChange(ch changeReq, msgs *[]string) (change, error) {
	if ch.Action == nil || ch.ResourceRecordSet == nil {
		return change{}, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: the content of element 'Change' is not complete: Action and ResourceRecordSet are required.")
	}
	action := *ch.Action
	if action != "CREATE" && action != "DELETE" && action != "UPSERT" {
		return change{}, errInvalidInput("Invalid XML ; cvc-enumeration-valid: Value '%s' is not facet-valid with respect to enumeration '[CREATE, DELETE, UPSERT]'. It must be a value from the enumeration.", action)
	}
	rs := ch.ResourceRecordSet
	if rs.Name == nil || rs.Type == nil {
		return change{}, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: the content of element 'ResourceRecordSet' is not complete: Name and Type are required.")
	}
	typ := *rs.Type
	if !slices.Contains(rrTypes, typ) {
		return change{}, errInvalidInput("Invalid XML ; cvc-enumeration-valid: Value '%s' is not facet-valid with respect to enumeration '[%s]'. It must be a value from the enumeration.", typ, strings.Join(rrTypes, ", "))
	}
	if len(*rs.Name) > 1024 {
		return change{}, errInvalidInput("Invalid XML ; cvc-maxLength-valid: Value with length = '%d' is not facet-valid with respect to maxLength '1024' for type 'DNSName'.", len(*rs.Name))
	}
	name, ok := canonicalName(*rs.Name)
	if !ok {
		return change{}, errInvalidInput("Invalid request: DNS name %q is not a valid domain name %s", *rs.Name, changeContext(action, *rs.Name, typ, rs.SetIdentifier))
	}
	ctx := changeContext(action, name, typ, rs.SetIdentifier)
	switch {
	case rs.Weight != nil, rs.Region != nil, rs.Failover != nil, rs.MultiValueAnswer != nil, rs.CidrRoutingConfig != nil:
		return change{}, errInvalidInput("Invalid request: mockcloud offers simple and geolocation routing only (no Weight, Region, Failover, MultiValueAnswer or CidrRoutingConfig) %s", ctx)
	case rs.AliasTarget != nil, rs.TrafficPolicyInstanceID != nil:
		return change{}, errInvalidInput("Invalid request: mockcloud does not offer alias records or traffic policies %s", ctx)
	case rs.SetIdentifier != nil && rs.GeoLocation == nil:
		return change{}, errInvalidInput("Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, or MultiValueAnswer], but found none %s", ctx)
	case rs.GeoLocation != nil && rs.SetIdentifier == nil:
		return change{}, errInvalidInput("Invalid request: Missing field 'SetIdentifier' %s", ctx)
	case rs.TTL == nil || rs.ResourceRecords == nil:
		return change{}, errInvalidInput("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none %s", ctx)
	case *rs.TTL < 0 || *rs.TTL > maxTTL:
		return change{}, errInvalidInput("Invalid XML ; cvc-maxInclusive-valid: Value '%d' is not facet-valid with respect to the range 0-%d for type 'TTL'.", *rs.TTL, maxTTL)
	case len(rs.ResourceRecords.ResourceRecord) == 0:
		return change{}, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: The content of element 'ResourceRecords' is not complete. One of '{\"%s\":ResourceRecord}' is expected.", apiNamespace)
	}
	rec := Record{Name: name, Type: typ, TTL: uint32(*rs.TTL), explicitTTL: true}
	if rs.SetIdentifier != nil {
		if n := len(*rs.SetIdentifier); n < 1 || n > 128 {
			return change{}, errInvalidInput("Invalid XML ; cvc-length-valid: SetIdentifier has length %d, not 1-128", n)
		}
		rec.SetIdentifier = *rs.SetIdentifier
	}
	if g := rs.GeoLocation; g != nil {
		geo := GeoLocation{}
		if g.ContinentCode != nil {
			geo.Continent = *g.ContinentCode
		}
		if g.CountryCode != nil {
			geo.Country = *g.CountryCode
		}
		if g.SubdivisionCode != nil {
			geo.Subdivision = *g.SubdivisionCode
		}
		var p problems
		if !validateGeo("GeoLocation", geo, &p) {
			return change{}, errInvalidInput("Invalid request: %s %s", fieldProblems(p.err()), ctx)
		}
		rec.Geo = &geo
	}
	if rs.HealthCheckID != nil {
		a.mu.Lock() // a.checks; the caller does not hold a.mu yet
		_, ok := a.checks[*rs.HealthCheckID]
		a.mu.Unlock()
		if !ok {
			return change{}, errNoSuchHealthCheck(*rs.HealthCheckID)
		}
		rec.HealthCheckID = *rs.HealthCheckID
	}
	for _, rr := range rs.ResourceRecords.ResourceRecord {
		if rr.Value == nil {
			return change{}, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: the content of element 'ResourceRecord' is not complete: Value is required.")
		}
		rec.Values = append(rec.Values, *rr.Value)
	}
	if typ == "SPF" || typ == "NAPTR" || typ == "DS" {
		*msgs = append(*msgs, fmt.Sprintf("mockcloud does not serve %s records", typ))
		return change{action: action, rec: rec}, nil
	}
	if (typ == "CNAME" || typ == "SOA") && len(rec.Values) > 1 {
		*msgs = append(*msgs, fmt.Sprintf("RRSet of type %s with DNS name %s has more than one value", typ, name))
	}
	for _, v := range rec.Values {
		if _, err := parseValue(name, rec.TTL, typ, supportedTypes[typ], v); err != nil {
			*msgs = append(*msgs, fmt.Sprintf("Invalid Resource Record: FATAL problem: %s encountered with '%s'", rdataProblem(typ), v))
		}
	}
	return change{action: action, rec: rec}, nil
}

// rdataProblem names a bad value the way Route 53's messages do.
func rdataProblem(typ string) string {
	switch typ {
	case "A":
		return "ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)"
	case "AAAA":
		return "AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address)"
	default:
		return "InvalidRDATA (Value is not valid " + typ + " record data)"
	}
}

func (a *API) changeRRSets(c *call) (int, any, error) {
	var req changeRRSetsRequest
	if err := decodeXML(c.body, &req); err != nil {
		return 0, nil, xmlError(err)
	}
	if req.ChangeBatch == nil || req.ChangeBatch.Changes == nil {
		return 0, nil, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: the content of element 'ChangeResourceRecordSetsRequest' is not complete: ChangeBatch with Changes is required.")
	}
	batch := req.ChangeBatch
	if len(batch.Changes.Change) == 0 {
		return 0, nil, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: The content of element 'Changes' is not complete. One of '{\"%s\":Change}' is expected.", apiNamespace)
	}
	comment := ""
	if batch.Comment != nil {
		if len(*batch.Comment) > 256 {
			return 0, nil, errInvalidInput("Invalid XML ; cvc-maxLength-valid: the Comment is longer than 256 characters.")
		}
		comment = *batch.Comment
	}

	// The zone first: a batch for a zone that does not exist is
	// NoSuchHostedZone whatever it holds.
	a.mu.Lock()
	zs, err := a.syncLocked()
	if err != nil {
		a.mu.Unlock()
		return 0, nil, err
	}
	hz, _, err := a.zoneLocked(c.args[0], zs)
	a.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}

	var msgs []string
	changes := make([]change, 0, len(batch.Changes.Change))
	records, chars := 0, 0
	for _, ch := range batch.Changes.Change {
		parsed, err := a.parseChange(ch, &msgs)
		if err != nil {
			return 0, nil, err
		}
		records += len(parsed.rec.Values)
		for _, v := range parsed.rec.Values {
			chars += len(v)
		}
		changes = append(changes, parsed)
	}
	if records > maxBatchRecords {
		return 0, nil, errInvalidChangeBatch([]string{fmt.Sprintf("Number of records limit of %d exceeded.", maxBatchRecords)})
	}
	if chars > maxBatchChars {
		return 0, nil, errInvalidChangeBatch([]string{fmt.Sprintf("Number of characters in record values limit of %d exceeded.", maxBatchChars)})
	}
	if len(msgs) > 0 {
		return 0, nil, errInvalidChangeBatch(msgs)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	var batchErr *apiError
	err = a.srv.UpdateZones(func(zs []Zone) ([]Zone, error) {
		i := zoneIndex(zs, hz.name)
		if i < 0 {
			return nil, errNoSuchHostedZone(hz.id)
		}
		recs, msgs := applyChanges(zs[i], hz.name, zoneNames(zs), changes)
		if len(msgs) > 0 {
			batchErr = errInvalidChangeBatch(msgs)
			return nil, batchErr
		}
		zs[i].Records = recs
		return zs, nil
	})
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return 0, nil, ae
	case errors.Is(err, ErrInvalidConfig):
		return 0, nil, errInvalidChangeBatch([]string{fieldProblems(err)})
	case err != nil:
		return 0, nil, err
	}
	return http.StatusOK, changeInfoResponse{
		XMLName: responseName("ChangeResourceRecordSets"), ChangeInfo: a.recordChangeLocked(comment),
	}, nil
}

func zoneNames(zs []Zone) map[string]bool {
	m := make(map[string]bool, len(zs))
	for _, z := range zs {
		if n, ok := canonicalName(z.Name); ok {
			m[n] = true
		}
	}
	return m
}

// effectiveTTL is the TTL a record is served with.
func effectiveTTL(r Record, z Zone) uint32 {
	if r.TTL != 0 || r.explicitTTL {
		return r.TTL
	}
	if z.TTL != 0 {
		return z.TTL
	}
	return DefaultTTL
}

// applyChanges applies the batch in order to a copy of the zone's records
// and returns them, or the InvalidChangeBatch messages. Route 53 applies a
// batch whole or not at all.
func applyChanges(z Zone, apex string, zones map[string]bool, changes []change) ([]Record, []string) {
	recs := slices.Clone(z.Records)
	var msgs []string
	find := func(r Record) int {
		return slices.IndexFunc(recs, func(x Record) bool {
			n, _ := recordName(x.Name, apex)
			return n == r.Name && x.Type == r.Type && x.SetIdentifier == r.SetIdentifier
		})
	}
	for _, ch := range changes {
		r := ch.rec
		if !dns.IsSubDomain(apex, r.Name) {
			msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", r.Name, apex))
			continue
		}
		i := find(r)
		if ch.action == "DELETE" {
			switch {
			case i < 0:
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but it was not found", r.describe()))
			case !sameRecordSet(recs[i], z, r):
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but the values provided do not match the current values", r.describe()))
			case r.Name == apex && r.Type == "SOA":
				msgs = append(msgs, "A HostedZone must contain exactly one SOA record.")
			case r.Name == apex && r.Type == "NS":
				msgs = append(msgs, "A HostedZone must contain at least one NS record for the zone itself.")
			default:
				recs = slices.Delete(recs, i, i+1)
			}
			continue
		}
		if ch.action == "CREATE" && i >= 0 {
			msgs = append(msgs, fmt.Sprintf("Tried to create resource record set %s but it already exists", r.describe()))
			continue
		}
		if m := placementProblem(r, apex, zones); m != "" {
			msgs = append(msgs, m)
			continue
		}
		if m := conflict(recs, i, r, apex); m != "" {
			msgs = append(msgs, m)
			continue
		}
		if i >= 0 {
			recs[i] = r
		} else {
			recs = append(recs, r)
		}
	}
	return recs, msgs
}

// placementProblem says why r cannot be where it is, "" if it can.
func placementProblem(r Record, apex string, zones map[string]bool) string {
	switch {
	case strings.HasPrefix(r.Name, "*.") || strings.Contains(r.Name, ".*."):
		return fmt.Sprintf("mockcloud does not serve wildcard names: %s", r.Name)
	case r.Type == "CNAME" && r.Name == apex:
		return fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted at apex in zone %s", r.Name, apex)
	case (r.Type == "NS" || r.Type == "SOA") && r.Name != apex:
		return fmt.Sprintf("mockcloud serves %s records only at the apex of zone %s (no delegations): %s", r.Type, apex, r.Name)
	case (r.Type == "NS" || r.Type == "SOA") && r.Geo != nil:
		return fmt.Sprintf("RRSet of type %s with DNS name %s cannot have a routing policy", r.Type, r.Name)
	}
	if other := zoneOf(r.Name, func(s string) bool { return zones[s] }); other != apex {
		return fmt.Sprintf("mockcloud answers %s from hosted zone %s, which is more specific than %s", r.Name, other, apex)
	}
	return ""
}

// conflict checks r against the other record sets of its name (skip is the
// index r replaces, -1 for none): a CNAME shares its name with nothing
// else, and the sets of a name and type are one simple set or geolocation
// sets for distinct locations.
func conflict(recs []Record, skip int, r Record, apex string) string {
	for j, x := range recs {
		n, _ := recordName(x.Name, apex)
		if j == skip || n != r.Name {
			continue
		}
		switch {
		case r.Type == "CNAME" && x.Type != "CNAME":
			return fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted as it conflicts with other records with the same DNS name in zone %s", r.Name, apex)
		case r.Type != "CNAME" && x.Type == "CNAME":
			return fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone %s", r.Type, r.Name, apex)
		case x.Type != r.Type:
		case r.Geo == nil || x.Geo == nil:
			return fmt.Sprintf("RRSet with DNS name %s, type %s cannot be created as other RRSets exist with the same name and type.", r.Name, r.Type)
		case *r.Geo == *x.Geo:
			return fmt.Sprintf("RRSet with DNS name %s, type %s, SetIdentifier %s and GeoLocation %s cannot be created because a geolocation RRSet with the same name, type and location already exists.",
				r.Name, r.Type, r.SetIdentifier, geoString(*r.Geo))
		}
	}
	return ""
}

func geoString(g GeoLocation) string {
	var parts []string
	if g.Continent != "" {
		parts = append(parts, "ContinentCode="+g.Continent)
	}
	if g.Country != "" {
		parts = append(parts, "CountryCode="+g.Country)
	}
	if g.Subdivision != "" {
		parts = append(parts, "SubdivisionCode="+g.Subdivision)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// sameRecordSet reports whether a DELETE's record set matches the stored
// one in every field, values in any order, as Route 53 requires.
func sameRecordSet(have Record, z Zone, want Record) bool {
	if effectiveTTL(have, z) != want.TTL || have.HealthCheckID != want.HealthCheckID {
		return false
	}
	if (have.Geo == nil) != (want.Geo == nil) || (have.Geo != nil && *have.Geo != *want.Geo) {
		return false
	}
	return slices.Equal(rdataSet(have), rdataSet(want))
}

// rdataSet is a record set's values in canonical form, sorted.
func rdataSet(r Record) []string {
	typ := supportedTypes[r.Type]
	out := make([]string, 0, len(r.Values))
	for _, v := range r.Values {
		rr, err := parseValue(".", 0, r.Type, typ, v)
		if err != nil {
			out = append(out, "!"+v)
			continue
		}
		out = append(out, strings.ToLower(strings.TrimPrefix(rr.String(), rr.Header().String())))
	}
	slices.Sort(out)
	return out
}

// rrsetKey orders record sets as ListResourceRecordSets lists them: name
// with labels reversed, then type, then set identifier.
type rrsetKey struct{ name, typ, id string }

func (k rrsetKey) compare(o rrsetKey) int {
	if c := strings.Compare(reversedName(k.name), reversedName(o.name)); c != 0 {
		return c
	}
	if c := strings.Compare(k.typ, o.typ); c != 0 {
		return c
	}
	return strings.Compare(k.id, o.id)
}

func (a *API) listRRSets(c *call) (int, any, error) {
	limit, err := c.maxItems(maxRRSetPage)
	if err != nil {
		return 0, nil, err
	}
	startName, hasName := c.query("name")
	startType, hasType := c.query("type")
	startID, hasID := c.query("identifier")
	switch {
	case hasType && !hasName:
		return 0, nil, errInvalidInput("The input is not valid: you must specify name when you specify type")
	case hasID && !hasType:
		return 0, nil, errInvalidInput("The input is not valid: you must specify name and type when you specify identifier")
	case hasType && !slices.Contains(rrTypes, startType):
		return 0, nil, errInvalidInput("Invalid XML ; cvc-enumeration-valid: Value '%s' is not facet-valid with respect to enumeration '[%s]'.", startType, strings.Join(rrTypes, ", "))
	}
	var start rrsetKey
	if hasName {
		n, ok := canonicalName(startName)
		if !ok {
			return 0, nil, errInvalidInput("Invalid request: %q is not a valid domain name", startName)
		}
		start = rrsetKey{n, startType, startID}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	zs, err := a.syncLocked()
	if err != nil {
		return 0, nil, err
	}
	hz, i, err := a.zoneLocked(c.args[0], zs)
	if err != nil {
		return 0, nil, err
	}
	z := zs[i]
	type keyed struct {
		k rrsetKey
		r Record
	}
	all := make([]keyed, 0, len(z.Records))
	for _, r := range z.Records {
		n, ok := recordName(r.Name, hz.name)
		if !ok {
			continue
		}
		r.Name = n
		all = append(all, keyed{rrsetKey{n, r.Type, r.SetIdentifier}, r})
	}
	slices.SortFunc(all, func(x, y keyed) int { return x.k.compare(y.k) })
	resp := listRRSetsResponse{ResourceRecordSets: []rrsetXML{}, MaxItems: strconv.Itoa(limit)}
	for _, e := range all {
		if hasName && e.k.compare(start) < 0 {
			continue
		}
		if len(resp.ResourceRecordSets) == limit {
			resp.IsTruncated, resp.NextRecordName, resp.NextRecordType, resp.NextRecordIdentifier = true, e.k.name, e.k.typ, e.k.id
			break
		}
		resp.ResourceRecordSets = append(resp.ResourceRecordSets, rrsetOut(e.r, z))
	}
	return http.StatusOK, resp, nil
}

func strPtr(s string) *string { return &s }

// rrsetOut is a record set as Route 53 lists it.
func rrsetOut(r Record, z Zone) rrsetXML {
	ttl := int64(effectiveTTL(r, z))
	out := rrsetXML{Name: strPtr(r.Name), Type: strPtr(r.Type), TTL: &ttl, ResourceRecords: &resourceRecordsXML{}}
	if r.SetIdentifier != "" {
		out.SetIdentifier = strPtr(r.SetIdentifier)
	}
	if g := r.Geo; g != nil {
		out.GeoLocation = &geoLocationXML{}
		if g.Continent != "" {
			out.GeoLocation.ContinentCode = strPtr(g.Continent)
		}
		if g.Country != "" {
			out.GeoLocation.CountryCode = strPtr(g.Country)
		}
		if g.Subdivision != "" {
			out.GeoLocation.SubdivisionCode = strPtr(g.Subdivision)
		}
	}
	for _, v := range r.Values {
		out.ResourceRecords.ResourceRecord = append(out.ResourceRecords.ResourceRecord, resourceRecordXML{Value: strPtr(v)})
	}
	if r.HealthCheckID != "" {
		out.HealthCheckID = strPtr(r.HealthCheckID)
	}
	return out
}
