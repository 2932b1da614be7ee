package controlplane

import (
	"fmt"
	"net/http"
	"strings"
)

// sigV4Algorithm is the only scheme whose credential scope names a region;
// SigV4a (AWS4-ECDSA-P256-SHA256) carries its region set in another header and
// the aws CLI does not use it for IoT.
const sigV4Algorithm = "AWS4-HMAC-SHA256"

// requestRegion picks the region a request is for: the credential scope of its
// Authorization header, else of a presigned X-Amz-Credential query parameter.
// errNoAuthorization means neither is present (the caller falls back to the
// default region); the signature itself is never checked.
func requestRegion(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return regionFromAuthorization(h)
	}
	if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		return regionFromCredential(c)
	}
	return "", errNoAuthorization
}

// RegionOf is the region a request to one of the rig's AWS APIs is for, read as
// the IoT control plane reads it (requestRegion); a request without any
// credential is for fallback. The other services on the control plane's port
// (ACM) use it, so every API agrees on a call's region.
func RegionOf(r *http.Request, fallback string) (string, error) {
	region, err := requestRegion(r)
	if err == errNoAuthorization {
		return fallback, nil
	}
	return region, err
}

// regionFromAuthorization reads the region out of
//
//	AWS4-HMAC-SHA256 Credential=AKID/20261128/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=…
//
// The service part of the scope is not checked: botocore signs IoT requests as
// "execute-api" (the model's signingName), other SDKs as "iot".
func regionFromAuthorization(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", errNoAuthorization
	}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != sigV4Algorithm {
		return "", fmt.Errorf("%w: algorithm is not %s", errMalformedAuthorization, sigV4Algorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == "Credential" {
			return regionFromCredential(v)
		}
	}
	return "", fmt.Errorf("%w: no Credential", errMalformedAuthorization)
}

// regionFromCredential reads AKID/yyyymmdd/region/service/aws4_request.
func regionFromCredential(c string) (string, error) {
	parts := strings.Split(c, "/")
	if len(parts) != 5 || parts[0] == "" || parts[3] == "" || parts[4] != "aws4_request" {
		return "", fmt.Errorf("%w: credential scope is not AKID/date/region/service/aws4_request", errMalformedAuthorization)
	}
	if !isDate(parts[1]) {
		return "", fmt.Errorf("%w: credential date is not yyyymmdd", errMalformedAuthorization)
	}
	if !validRegionName(parts[2]) {
		return "", fmt.Errorf("%w: credential region is not a region name", errMalformedAuthorization)
	}
	return parts[2], nil
}

func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validRegionName accepts the shape of AWS region names (eu-west-1, us-gov-east-1,
// local) without a list, so a rig may invent names.
func validRegionName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
