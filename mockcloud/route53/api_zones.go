package route53

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Page sizes: the default and largest MaxItems of each list.
const (
	maxZonePage  = 100
	maxRRSetPage = 300
)

// TTLs Route 53 gives the records of a new hosted zone.
const (
	newZoneSOATTL uint32 = 900
	newZoneNSTTL  uint32 = 172800
)

// syncLocked makes the hosted zones match the Server's zones and returns
// them: a zone the API has not seen (the rig file's, or one added with
// Server.UpdateZones) becomes a hosted zone with its SOA as a record, as
// Route 53 lists it; a hosted zone whose zone is gone is forgotten. Needs
// a.mu.
func (a *API) syncLocked() ([]Zone, error) {
	zs := a.srv.Zones()
	known := make(map[string]bool, len(a.zones))
	for _, hz := range a.zones {
		known[hz.name] = true
	}
	present := make(map[string]bool, len(zs))
	needSOA := false
	for _, z := range zs {
		name, ok := canonicalName(z.Name)
		if !ok || z.Service {
			continue
		}
		present[name] = true
		if soaIndex(z, name) < 0 {
			needSOA = true
		}
		if !known[name] {
			hz := &hostedZone{id: nameZoneID(name), name: name, callerRef: "mockcloud:" + name}
			a.zones[hz.id] = hz
			a.order = append(a.order, hz.id)
		}
	}
	for id, hz := range a.zones {
		if !present[hz.name] {
			delete(a.zones, id)
			a.order = slices.DeleteFunc(a.order, func(s string) bool { return s == id })
		}
	}
	if !needSOA {
		return zs, nil
	}
	err := a.srv.UpdateZones(func(zs []Zone) ([]Zone, error) {
		cat := a.srv.cat.Load()
		for i := range zs {
			name, ok := canonicalName(zs[i].Name)
			if !ok || zs[i].Service || soaIndex(zs[i], name) >= 0 || cat.zones[name] == nil {
				continue
			}
			soa := cat.zones[name].nodes[name].sets[dns.TypeSOA].plain[0].(*dns.SOA)
			zs[i].SOA = SOA{}
			zs[i].Records = append([]Record{{
				Name: name, Type: "SOA", TTL: soa.Hdr.Ttl, explicitTTL: true,
				Values: []string{fmt.Sprintf("%s %s %d %d %d %d %d", soa.Ns, soa.Mbox, soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl)},
			}}, zs[i].Records...)
		}
		return zs, nil
	})
	if err != nil {
		return nil, fmt.Errorf("take in zone SOA records: %w", err)
	}
	return a.srv.Zones(), nil
}

// soaIndex is the index of the apex SOA record of z, -1 if none.
func soaIndex(z Zone, apex string) int {
	return slices.IndexFunc(z.Records, func(r Record) bool {
		n, ok := recordName(r.Name, apex)
		return ok && n == apex && r.Type == "SOA"
	})
}

// zoneIndex finds the zone named name (canonical) in zs, -1 if none.
func zoneIndex(zs []Zone, name string) int {
	return slices.IndexFunc(zs, func(z Zone) bool {
		n, ok := canonicalName(z.Name)
		return ok && n == name
	})
}

// nameServers are the zone's delegation set: its apex NS values, else the
// SOA's primary name server.
func nameServers(z Zone, apex string) []string {
	var out []string
	for _, r := range z.Records {
		if n, ok := recordName(r.Name, apex); ok && n == apex && r.Type == "NS" {
			for _, v := range r.Values {
				out = append(out, strings.TrimSuffix(strings.TrimSpace(v), "."))
			}
		}
	}
	if len(out) == 0 {
		if i := soaIndex(z, apex); i >= 0 && len(z.Records[i].Values) > 0 {
			if f := strings.Fields(z.Records[i].Values[0]); len(f) > 0 {
				out = append(out, strings.TrimSuffix(f[0], "."))
			}
		}
	}
	return out
}

// zoneLocked resolves an ID from a path to the hosted zone and its zone in
// zs. Needs a.mu.
func (a *API) zoneLocked(rawID string, zs []Zone) (*hostedZone, int, error) {
	id := stripIDPrefix(rawID, "hostedzone")
	if len(id) > 32 {
		return nil, -1, errInvalidInput("1 validation error detected: Value '%s' at 'id' failed to satisfy constraint: Member must have length less than or equal to 32", id)
	}
	hz := a.zones[id]
	if hz == nil {
		return nil, -1, errNoSuchHostedZone(id)
	}
	i := zoneIndex(zs, hz.name)
	if i < 0 {
		return nil, -1, errNoSuchHostedZone(id)
	}
	return hz, i, nil
}

func hostedZoneOut(hz *hostedZone, z Zone) hostedZoneXML {
	return hostedZoneXML{
		ID: "/hostedzone/" + hz.id, Name: hz.name, CallerReference: hz.callerRef,
		Config:                 hostedZoneConfigResp{Comment: hz.comment},
		ResourceRecordSetCount: int64(len(z.Records)),
	}
}

// newNameServers picks four name servers the way Route 53 names them: one
// each under .com, .net, .org and .co.uk.
func newNameServers() []string {
	var out []string
	for _, tld := range []string{"com", "net", "org", "co.uk"} {
		var b [2]byte
		_, _ = rand.Read(b[:])
		n := int(binary.BigEndian.Uint16(b[:]) % 2048)
		out = append(out, fmt.Sprintf("ns-%d.awsdns-%02d.%s", n, n/32, tld))
	}
	return out
}

func xmlError(err error) *apiError {
	return errInvalidInput("Invalid XML ; %s", strings.TrimPrefix(err.Error(), errXMLSyntax.Error()+": "))
}

func (a *API) createHostedZone(c *call) (int, any, error) {
	var req createHostedZoneRequest
	if err := decodeXML(c.body, &req); err != nil {
		return 0, nil, xmlError(err)
	}
	switch {
	case req.Name == nil:
		return 0, nil, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.a: the content of element 'CreateHostedZoneRequest' is not complete: 'Name' is expected.")
	case req.CallerReference == nil:
		return 0, nil, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.a: the content of element 'CreateHostedZoneRequest' is not complete: 'CallerReference' is expected.")
	case len(*req.CallerReference) < 1 || len(*req.CallerReference) > 128:
		return 0, nil, errInvalidInput("1 validation error detected: Value '%s' at 'callerReference' failed to satisfy constraint: Member must have length between 1 and 128", *req.CallerReference)
	}
	var comment string
	if hc := req.HostedZoneConfig; hc != nil {
		if hc.Comment != nil {
			if len(*hc.Comment) > 256 {
				return 0, nil, errInvalidInput("1 validation error detected: Value at 'hostedZoneConfig.comment' failed to satisfy constraint: Member must have length less than or equal to 256")
			}
			comment = *hc.Comment
		}
		if hc.PrivateZone != nil && *hc.PrivateZone {
			return 0, nil, errInvalidInput("When you're creating a private hosted zone (when you specify true for PrivateZone), you must also specify values for VPCId and VPCRegion.")
		}
	}
	if req.VPC != nil {
		return 0, nil, &apiError{http.StatusBadRequest, "InvalidVPCId", "mockcloud has no VPCs: private hosted zones are not offered"}
	}
	if req.DelegationSetID != nil {
		return 0, nil, &apiError{http.StatusBadRequest, "NoSuchDelegationSet", "A reusable delegation set with the specified ID does not exist."}
	}
	name, ok := canonicalName(*req.Name)
	if !ok || name == "." || len(*req.Name) > 1024 || strings.Contains(name, "*") {
		return 0, nil, &apiError{http.StatusBadRequest, "InvalidDomainName", fmt.Sprintf("%s is not a valid domain name.", *req.Name)}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.syncLocked(); err != nil {
		return 0, nil, err
	}
	used := a.usedZoneRefs[*req.CallerReference]
	for _, hz := range a.zones {
		used = used || hz.callerRef == *req.CallerReference
	}
	if used {
		return 0, nil, &apiError{http.StatusConflict, "HostedZoneAlreadyExists", "A hosted zone has already been created with the specified caller reference."}
	}
	for _, hz := range a.zones {
		if hz.name == name {
			return 0, nil, &apiError{http.StatusConflict, "HostedZoneAlreadyExists",
				fmt.Sprintf("mockcloud serves one hosted zone per name: %s already has hosted zone %s", name, hz.id)}
		}
	}
	hz := &hostedZone{id: newID("Z"), name: name, callerRef: *req.CallerReference, comment: comment}
	ns := newNameServers()
	zone := Zone{Name: name, Records: []Record{
		{Name: name, Type: "SOA", TTL: newZoneSOATTL, explicitTTL: true, Values: []string{
			fmt.Sprintf("%s. awsdns-hostmaster.amazon.com. 1 %d %d %d %d", ns[0], DefaultSOARefresh, DefaultSOARetry, DefaultSOAExpire, DefaultSOAMinimum)}},
		{Name: name, Type: "NS", TTL: newZoneNSTTL, explicitTTL: true, Values: func() []string {
			v := make([]string, len(ns))
			for i, n := range ns {
				v[i] = n + "."
			}
			return v
		}()},
	}}
	err := a.srv.UpdateZones(func(zs []Zone) ([]Zone, error) { return append(zs, zone), nil })
	if err != nil {
		return 0, nil, &apiError{http.StatusBadRequest, "ConflictingDomainExists", fieldProblems(err)}
	}
	a.zones[hz.id] = hz
	a.order = append(a.order, hz.id)
	ci := a.recordChangeLocked("")
	c.header.Set("Location", "https://route53.amazonaws.com/2013-04-01/hostedzone/"+hz.id)
	return http.StatusCreated, createHostedZoneResponse{
		HostedZone: hostedZoneOut(hz, zone), ChangeInfo: ci,
		DelegationSet: delegationSetXML{NameServers: ns},
	}, nil
}

func (a *API) getHostedZone(c *call) (int, any, error) {
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
	return http.StatusOK, getHostedZoneResponse{
		HostedZone:    hostedZoneOut(hz, zs[i]),
		DelegationSet: delegationSetXML{NameServers: nameServers(zs[i], hz.name)},
	}, nil
}

// requiredRecord reports whether r is one Route 53 makes with the zone and
// keeps until the zone goes: the apex SOA and NS.
func requiredRecord(r Record, apex string) bool {
	n, ok := recordName(r.Name, apex)
	return ok && n == apex && (r.Type == "SOA" || r.Type == "NS") && r.SetIdentifier == ""
}

func (a *API) deleteHostedZone(c *call) (int, any, error) {
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
	for _, r := range zs[i].Records {
		if !requiredRecord(r, hz.name) {
			return 0, nil, &apiError{http.StatusBadRequest, "HostedZoneNotEmpty", "The specified hosted zone contains non-required resource record sets and so cannot be deleted."}
		}
	}
	err = a.srv.UpdateZones(func(zs []Zone) ([]Zone, error) {
		if j := zoneIndex(zs, hz.name); j >= 0 {
			zs = slices.Delete(zs, j, j+1)
		}
		return zs, nil
	})
	if err != nil {
		return 0, nil, err
	}
	delete(a.zones, hz.id)
	a.order = slices.DeleteFunc(a.order, func(s string) bool { return s == hz.id })
	a.usedZoneRefs[hz.callerRef] = true
	return http.StatusOK, changeInfoResponse{XMLName: responseName("DeleteHostedZone"), ChangeInfo: a.recordChangeLocked("")}, nil
}

// maxItems reads the maxitems parameter: default and cap def.
func (c *call) maxItems(def int) (int, error) {
	s, ok := c.query("maxitems")
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errInvalidInput("Invalid value for maxitems: %q is not a non-negative integer", s)
	}
	if n == 0 || n > def {
		n = def
	}
	return n, nil
}

func (a *API) listHostedZones(c *call) (int, any, error) {
	limit, err := c.maxItems(maxZonePage)
	if err != nil {
		return 0, nil, err
	}
	if _, ok := c.query("delegationsetid"); ok {
		return 0, nil, &apiError{http.StatusBadRequest, "NoSuchDelegationSet", "A reusable delegation set with the specified ID does not exist."}
	}
	marker, _ := c.query("marker")
	a.mu.Lock()
	defer a.mu.Unlock()
	zs, err := a.syncLocked()
	if err != nil {
		return 0, nil, err
	}
	start := 0
	if marker != "" {
		start = slices.Index(a.order, stripIDPrefix(marker, "hostedzone"))
		if start < 0 {
			return 0, nil, errInvalidInput("Invalid marker: %s", marker)
		}
	}
	resp := listHostedZonesResponse{HostedZones: []hostedZoneXML{}, Marker: marker, MaxItems: strconv.Itoa(limit)}
	for _, id := range a.order[start:] {
		if len(resp.HostedZones) == limit {
			resp.IsTruncated, resp.NextMarker = true, id
			break
		}
		hz := a.zones[id]
		resp.HostedZones = append(resp.HostedZones, hostedZoneOut(hz, zs[zoneIndex(zs, hz.name)]))
	}
	return http.StatusOK, resp, nil
}

// reversedName is the sort key Route 53 lists names by: labels reversed,
// "www.example.com." → "com.example.www".
func reversedName(name string) string {
	labels := dns.SplitDomainName(name)
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

func (a *API) listHostedZonesByName(c *call) (int, any, error) {
	limit, err := c.maxItems(maxZonePage)
	if err != nil {
		return 0, nil, err
	}
	dnsName, hasName := c.query("dnsname")
	startID, hasID := c.query("hostedzoneid")
	if hasID && !hasName {
		return 0, nil, errInvalidInput("Invalid request: if you specify hostedzoneid, you must also specify dnsname")
	}
	startKey := ""
	if hasName {
		n, ok := canonicalName(dnsName)
		if !ok {
			return 0, nil, &apiError{http.StatusBadRequest, "InvalidDomainName", fmt.Sprintf("%s is not a valid domain name.", dnsName)}
		}
		startKey = reversedName(n)
	}
	startID = stripIDPrefix(startID, "hostedzone")
	a.mu.Lock()
	defer a.mu.Unlock()
	zs, err := a.syncLocked()
	if err != nil {
		return 0, nil, err
	}
	sorted := make([]*hostedZone, 0, len(a.zones))
	for _, hz := range a.zones {
		sorted = append(sorted, hz)
	}
	slices.SortFunc(sorted, func(x, y *hostedZone) int {
		if c := strings.Compare(reversedName(x.name), reversedName(y.name)); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	resp := listHostedZonesByNameResponse{HostedZones: []hostedZoneXML{}, DNSName: dnsName, HostedZoneID: startID, MaxItems: strconv.Itoa(limit)}
	for _, hz := range sorted {
		key := reversedName(hz.name)
		if key < startKey || (key == startKey && hasID && hz.id < startID) {
			continue
		}
		if len(resp.HostedZones) == limit {
			resp.IsTruncated, resp.NextDNSName, resp.NextHostedZoneID = true, hz.name, hz.id
			break
		}
		resp.HostedZones = append(resp.HostedZones, hostedZoneOut(hz, zs[zoneIndex(zs, hz.name)]))
	}
	return http.StatusOK, resp, nil
}
