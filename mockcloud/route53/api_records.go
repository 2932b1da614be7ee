package route53

import (
	"errors"
	"fmt"
	"github.com/miekg/dns"
	"net/http"
	"slices"
	"strings"
)

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
