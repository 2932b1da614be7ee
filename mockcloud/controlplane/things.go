package controlplane

import (
	"strings"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// ThingSummary is one element of ListThings' "things" (the model's
// ThingAttribute).
type ThingSummary struct {
	ThingName     string            `json:"thingName"`
	ThingTypeName string            `json:"thingTypeName,omitempty"`
	ThingArn      string            `json:"thingArn"`
	Attributes    map[string]string `json:"attributes"`
	Version       int64             `json:"version"`
}

func attrs(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{} // AWS sends {} rather than leaving it out
	}
	return m
}

// listThings is ListThings. Filters: attributeName (+ attributeValue, exact, or a
// prefix with usePrefixAttributeValue=true), thingTypeName, and, as a mock
// extension the AWS model lacks, thingGroupName. An attributeValue without
// attributeName is ignored, as the registry's filter does.
func listThings(c *call) (any, error) {
	limit, token, err := c.pageArgs("maxResults", "nextToken")
	if err != nil {
		return nil, err
	}
	prefix, _, err := c.boolArg("usePrefixAttributeValue")
	if err != nil {
		return nil, err
	}
	f := registry.ThingFilter{
		AttributeName:  c.query.Get("attributeName"),
		AttributeValue: c.query.Get("attributeValue"),
		ThingTypeName:  c.query.Get("thingTypeName"),
		ThingGroup:     c.query.Get("thingGroupName"),
	}
	value := f.AttributeValue
	if prefix {
		f.AttributeValue = ""
	}
	things, err := c.store.ListThings(f)
	if err != nil {
		return nil, err
	}
	if prefix && f.AttributeName != "" {
		kept := things[:0]
		for _, t := range things {
			if strings.HasPrefix(t.Attributes[f.AttributeName], value) {
				kept = append(kept, t)
			}
		}
		things = kept
	}
	page, next, err := paginate(things, func(t registry.Thing) string { return t.Name }, false, token, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Things    []ThingSummary `json:"things"`
		NextToken string         `json:"nextToken,omitempty"`
	}{Things: []ThingSummary{}, NextToken: next}
	for _, t := range page {
		out.Things = append(out.Things, ThingSummary{ThingName: t.Name, ThingTypeName: t.TypeName, ThingArn: t.ARN,
			Attributes: attrs(t.Attributes), Version: t.Version})
	}
	return out, nil
}

func describeThing(c *call) (any, error) {
	t, err := c.store.GetThing(c.args[0])
	if err != nil {
		return nil, err
	}
	return struct {
		DefaultClientID string            `json:"defaultClientId"`
		ThingName       string            `json:"thingName"`
		ThingID         string            `json:"thingId"`
		ThingArn        string            `json:"thingArn"`
		ThingTypeName   string            `json:"thingTypeName,omitempty"`
		Attributes      map[string]string `json:"attributes"`
		Version         int64             `json:"version"`
	}{t.Name, t.Name, stableID(t.ARN), t.ARN, t.TypeName, attrs(t.Attributes), t.Version}, nil
}

// listThingPrincipals lists the certificate ARNs attached to a thing.
func listThingPrincipals(c *call) (any, error) {
	limit, token, err := c.pageArgs("maxResults", "nextToken")
	if err != nil {
		return nil, err
	}
	if _, err := c.store.GetThing(c.args[0]); err != nil {
		return nil, err
	}
	ids, err := c.store.PrincipalsForThing(c.args[0])
	if err != nil {
		return nil, err
	}
	arns := make([]string, len(ids))
	for i, id := range ids {
		arns[i] = c.store.ARN("cert", id)
	}
	page, next, err := paginate(arns, func(s string) string { return s }, false, token, limit)
	if err != nil {
		return nil, err
	}
	return struct {
		Principals []string `json:"principals"`
		NextToken  string   `json:"nextToken,omitempty"`
	}{append([]string{}, page...), next}, nil
}

type groupNameAndArn struct {
	GroupName string `json:"groupName"`
	GroupArn  string `json:"groupArn"`
}

// listThingGroups is ListThingGroups. The registry's groups are flat, so
// parentGroup (once it names an existing group) matches nothing and recursive
// changes nothing; namePrefixFilter works.
func listThingGroups(c *call) (any, error) {
	limit, token, err := c.pageArgs("maxResults", "nextToken")
	if err != nil {
		return nil, err
	}
	if _, _, err := c.boolArg("recursive"); err != nil {
		return nil, err
	}
	groups, err := c.store.ListThingGroups()
	if err != nil {
		return nil, err
	}
	if parent := c.query.Get("parentGroup"); parent != "" {
		if _, err := c.store.GetThingGroup(parent); err != nil {
			return nil, err
		}
		groups = nil
	}
	if pre := c.query.Get("namePrefixFilter"); pre != "" {
		kept := groups[:0]
		for _, g := range groups {
			if strings.HasPrefix(g.Name, pre) {
				kept = append(kept, g)
			}
		}
		groups = kept
	}
	page, next, err := paginate(groups, func(g registry.ThingGroup) string { return g.Name }, false, token, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		ThingGroups []groupNameAndArn `json:"thingGroups"`
		NextToken   string            `json:"nextToken,omitempty"`
	}{ThingGroups: []groupNameAndArn{}, NextToken: next}
	for _, g := range page {
		out.ThingGroups = append(out.ThingGroups, groupNameAndArn{g.Name, g.ARN})
	}
	return out, nil
}

type attributePayload struct {
	Attributes map[string]string `json:"attributes"`
}

type thingGroupProperties struct {
	ThingGroupDescription string           `json:"thingGroupDescription,omitempty"`
	AttributePayload      attributePayload `json:"attributePayload"`
}

type thingGroupMetadata struct {
	RootToParentThingGroups []groupNameAndArn `json:"rootToParentThingGroups"`
	CreationDate            *epoch            `json:"creationDate,omitempty"`
}

func describeThingGroup(c *call) (any, error) {
	g, err := c.store.GetThingGroup(c.args[0])
	if err != nil {
		return nil, err
	}
	return struct {
		ThingGroupName       string               `json:"thingGroupName"`
		ThingGroupID         string               `json:"thingGroupId"`
		ThingGroupArn        string               `json:"thingGroupArn"`
		Version              int64                `json:"version"`
		ThingGroupProperties thingGroupProperties `json:"thingGroupProperties"`
		ThingGroupMetadata   thingGroupMetadata   `json:"thingGroupMetadata"`
	}{
		ThingGroupName: g.Name, ThingGroupID: stableID(g.ARN), ThingGroupArn: g.ARN, Version: g.Version,
		ThingGroupProperties: thingGroupProperties{g.Description, attributePayload{attrs(g.Attributes)}},
		ThingGroupMetadata:   thingGroupMetadata{[]groupNameAndArn{}, ts(g.CreatedAt)},
	}, nil
}

func listThingsInThingGroup(c *call) (any, error) {
	limit, token, err := c.pageArgs("maxResults", "nextToken")
	if err != nil {
		return nil, err
	}
	if _, _, err := c.boolArg("recursive"); err != nil {
		return nil, err
	}
	if _, err := c.store.GetThingGroup(c.args[0]); err != nil {
		return nil, err
	}
	things, err := c.store.ListThings(registry.ThingFilter{ThingGroup: c.args[0]})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(things, func(t registry.Thing) string { return t.Name }, false, token, limit)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, t := range page {
		names = append(names, t.Name)
	}
	return struct {
		Things    []string `json:"things"`
		NextToken string   `json:"nextToken,omitempty"`
	}{names, next}, nil
}
