package route53

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
