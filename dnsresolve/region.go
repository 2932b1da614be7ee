package dnsresolve

import "strings"

// RegionFromName returns the AWS region in an AWS IoT endpoint name of the form
// "<anything>.iot.<region>.amazonaws.com" or "<anything>.iot.<region>.amazonaws.com.cn"
// (trailing dot and letter case ignored), e.g. "us-east-1" for
// "a1b2c3-ats.iot.us-east-1.amazonaws.com". It returns "" when the name has no such shape
// or the region label does not look like a region (letters, dash-separated words, a
// number: "eu-west-1", "us-gov-west-1", "cn-north-1"). A custom domain that is not
// itself an AWS name says no region: the region comes from the end of its CNAME chain.
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
	// rest is "<anything>.iot.<region>"; <anything> must be at least one label.
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return ""
	}
	region, rest := rest[dot+1:], rest[:dot]
	if !strings.HasSuffix(rest, ".iot") || len(rest) == len(".iot") || strings.HasSuffix(rest, "..iot") {
		return ""
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
