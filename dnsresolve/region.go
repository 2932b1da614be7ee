package dnsresolve

import "strings"

// RegionFromName returns the AWS region in an AWS IoT endpoint name, or "" when the name
// is not one. Trailing dot and letter case are ignored. The forms are AWS IoT's
// regional device endpoints, "<labels>.<service>.<region>.<domain>", where
//
//   - <labels> is at least one non-empty label: the account prefix of a data endpoint
//     ("a1b2c3-ats" for iot:Data-ATS, "a1b2c3" for the legacy iot:Data, "a1b2c3.ats" in
//     China, "a1b2c3-beta" for a custom domain's target), or a prefix followed by
//     "credentials" or "jobs" for the other device endpoints, or "data" for FIPS;
//   - <service> is "iot", or "iot-fips" for the FIPS data endpoints;
//   - <region> has the shape of a region: two letters, dash-separated words, a number of
//     one or two digits ("eu-west-1", "us-gov-west-1", "cn-north-1");
//   - <domain> is "amazonaws.com", or "amazonaws.com.cn" in China.
//
// So "a1b2c3-ats.iot.us-east-1.amazonaws.com" (also the mock cloud's regional names)
// and "data.iot-fips.us-east-1.amazonaws.com" give "us-east-1". The control-plane name
// "iot.us-east-1.amazonaws.com" (no prefix), other AWS names (a load balancer's
// "x.elb.us-east-1.amazonaws.com") and a custom domain give "": a custom domain's region
// is that of the endpoint name its CNAME chain leads to.
func RegionFromName(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	var rest string
	switch {
	case strings.HasSuffix(name, ".amazonaws.com"):
		rest = strings.TrimSuffix(name, ".amazonaws.com")
	case strings.HasSuffix(name, ".amazonaws.com.cn"):
		rest = strings.TrimSuffix(name, ".amazonaws.com.cn")
	default:
		return ""
	}
	// rest is "<labels>.<service>.<region>".
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return ""
	}
	region, rest := rest[dot+1:], rest[:dot]
	dot = strings.LastIndexByte(rest, '.')
	if dot <= 0 {
		return "" // no <labels>, or an empty first one
	}
	service, labels := rest[dot+1:], rest[:dot]
	if service != "iot" && service != "iot-fips" {
		return ""
	}
	for _, l := range strings.Split(labels, ".") {
		if l == "" {
			return ""
		}
	}
	if !validRegion(region) {
		return ""
	}
	return region
}

// validRegion checks the shape "<2 letters>(-<letters>)+-<digits>" with at most 2 digits.
func validRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 {
		return false
	}
	if len(parts[0]) != 2 || !allIn(parts[0], 'a', 'z') {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if p == "" || !allIn(p, 'a', 'z') {
			return false
		}
	}
	last := parts[len(parts)-1]
	return len(last) >= 1 && len(last) <= 2 && allIn(last, '0', '9')
}

func allIn(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}

// chainRegion is the region of the last AWS IoT endpoint name on the way from the query
// to the addresses (the query itself, the targets of the chain's links, in order), and
// that name; "" and "" when no name on the way is one. AWS may put a name of its own
// behind the endpoint name (a load balancer's, which names no region the way an IoT
// endpoint does), so the end of the chain alone is not enough. When an earlier name
// names another region, conflict is that region: the addresses are the later
// endpoint's, so the later name wins.
func chainRegion(query string, chain []Link) (region, from, conflict string) {
	names := make([]string, 0, len(chain)+1)
	names = append(names, query)
	for _, l := range chain {
		names = append(names, l.Target)
	}
	for i := len(names) - 1; i >= 0; i-- {
		r := RegionFromName(names[i])
		if r == "" {
			continue
		}
		if region == "" {
			region, from = r, names[i]
		} else if r != region && conflict == "" {
			conflict = r
		}
	}
	return region, from, conflict
}
