package route53

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

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
