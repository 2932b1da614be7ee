package controlplane

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// Certificate modes. The registry keeps no mode; it is read off the CA: a
// certificate registered without CA is SNI_ONLY, one with a CA is DEFAULT.
// Certificates the region issued itself also carry no CA and so show as SNI_ONLY,
// where AWS would show its own certificates as DEFAULT.
const (
	modeDefault = "DEFAULT"
	modeSNIOnly = "SNI_ONLY"
)

func certMode(c *registry.Certificate) string {
	if c.CAID == "" {
		return modeSNIOnly
	}
	return modeDefault
}

type certSummary struct {
	CertificateArn  string `json:"certificateArn"`
	CertificateID   string `json:"certificateId"`
	Status          string `json:"status"`
	CertificateMode string `json:"certificateMode"`
	CreationDate    *epoch `json:"creationDate,omitempty"`
}

// listCertificates is ListCertificates: by creation date, newest first unless
// isAscendingOrder=true; marker/pageSize paging.
func listCertificates(c *call) (any, error) {
	certs, err := c.store.ListCertificates("")
	if err != nil {
		return nil, err
	}
	return certificatePage(c, certs, func(x registry.Certificate) certSummary {
		return certSummary{x.ARN, x.ID, x.Status, certMode(&x), ts(x.CreatedAt)}
	}, func(x registry.Certificate) string { return timeKey(x.CreatedAt, x.ID) })
}

// certificatePage is the page of items a List*Certificates call asks for, by
// creation date (key), newest first unless isAscendingOrder=true.
func certificatePage[T any](c *call, items []T, summary func(T) certSummary, key func(T) string) (any, error) {
	limit, token, err := c.pageArgs("pageSize", "marker")
	if err != nil {
		return nil, err
	}
	asc, _, err := c.boolArg("isAscendingOrder")
	if err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b T) int {
		if asc {
			return strings.Compare(key(a), key(b))
		}
		return strings.Compare(key(b), key(a))
	})
	page, next, err := paginate(items, key, !asc, token, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Certificates []certSummary `json:"certificates"`
		NextMarker   string        `json:"nextMarker,omitempty"`
	}{Certificates: []certSummary{}, NextMarker: next}
	for _, x := range page {
		out.Certificates = append(out.Certificates, summary(x))
	}
	return out, nil
}

type certValidity struct {
	NotBefore *epoch `json:"notBefore,omitempty"`
	NotAfter  *epoch `json:"notAfter,omitempty"`
}

type certDescription struct {
	CertificateArn   string        `json:"certificateArn"`
	CertificateID    string        `json:"certificateId"`
	CACertificateID  string        `json:"caCertificateId,omitempty"`
	Status           string        `json:"status"`
	CertificatePem   string        `json:"certificatePem"`
	OwnedBy          string        `json:"ownedBy"`
	CreationDate     *epoch        `json:"creationDate,omitempty"`
	LastModifiedDate *epoch        `json:"lastModifiedDate,omitempty"`
	CustomerVersion  int           `json:"customerVersion"`
	Validity         *certValidity `json:"validity,omitempty"`
	CertificateMode  string        `json:"certificateMode"`
}

// describeCertificate is DescribeCertificate. The registry keeps no modification
// time or version, so lastModifiedDate is the creation date and customerVersion 1.
func describeCertificate(c *call) (any, error) {
	id, err := certIDArg(c.args[0])
	if err != nil {
		return nil, err
	}
	x, err := c.store.GetCertificate(id)
	if err != nil {
		return nil, err
	}
	d := certDescription{
		CertificateArn: x.ARN, CertificateID: x.ID, CACertificateID: x.CAID, Status: x.Status,
		CertificatePem: x.PEM, OwnedBy: c.store.AccountID(), CreationDate: ts(x.CreatedAt),
		LastModifiedDate: ts(x.CreatedAt), CustomerVersion: 1, CertificateMode: certMode(x),
	}
	if pc, err := registry.ParseCertificatePEM(x.PEM); err == nil {
		d.Validity = &certValidity{ts(pc.NotBefore), ts(pc.NotAfter)}
	}
	return struct {
		CertificateDescription certDescription `json:"certificateDescription"`
	}{d}, nil
}

// updateCertificate is UpdateCertificate. As in AWS: PENDING_TRANSFER,
// PENDING_ACTIVATION and the deprecated REGISTER_INACTIVE are refused, and a
// REVOKED certificate keeps its status for good (CertificateStateException).
// The check and the change are two registry calls, not one transaction.
func updateCertificate(c *call) (any, error) {
	id, err := certIDArg(c.args[0])
	if err != nil {
		return nil, err
	}
	st := c.query.Get("newStatus")
	switch st {
	case registry.StatusActive, registry.StatusInactive, registry.StatusRevoked:
	case "":
		return nil, apiErr(codeInvalidRequest, "newStatus is required")
	default:
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("newStatus %q cannot be set", st))
	}
	x, err := c.store.GetCertificate(id)
	if err != nil {
		return nil, err
	}
	if x.Status == registry.StatusRevoked && st != registry.StatusRevoked {
		return nil, apiErr(codeCertificateState, "certificate "+id+" is REVOKED; its status cannot change")
	}
	set := c.store.SetCertificateStatus
	if hook := c.h.opts.SetCertificateStatus; hook != nil {
		set = func(id, status string) error { return hook(c.region.Name, id, status) }
	}
	if err := set(id, st); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// certIDArg checks the model's CertificateId: 64 hex digits, "0x" allowed.
func certIDArg(s string) (string, error) {
	id := strings.TrimPrefix(s, "0x")
	if len(s) != 64 || len(id) == 0 || strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" {
		return "", apiErr(codeInvalidRequest, "certificateId must be 64 hexadecimal digits")
	}
	return strings.ToLower(id), nil
}

type policySummary struct {
	PolicyName string `json:"policyName"`
	PolicyArn  string `json:"policyArn"`
}

// listPolicies is ListPolicies, by name; isAscendingOrder=false reverses it.
func listPolicies(c *call) (any, error) {
	limit, token, err := c.pageArgs("pageSize", "marker")
	if err != nil {
		return nil, err
	}
	asc, set, err := c.boolArg("isAscendingOrder")
	if err != nil {
		return nil, err
	}
	pols, err := c.store.ListPolicies()
	if err != nil {
		return nil, err
	}
	return policyPage(pols, set && !asc, token, limit)
}

func policyPage(pols []registry.Policy, desc bool, token string, limit int) (any, error) {
	if desc {
		slices.Reverse(pols)
	}
	page, next, err := paginate(pols, func(p registry.Policy) string { return p.Name }, desc, token, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Policies   []policySummary `json:"policies"`
		NextMarker string          `json:"nextMarker,omitempty"`
	}{Policies: []policySummary{}, NextMarker: next}
	for _, p := range page {
		out.Policies = append(out.Policies, policySummary{p.Name, p.ARN})
	}
	return out, nil
}

func getPolicy(c *call) (any, error) {
	pol, err := c.store.GetPolicy(c.args[0])
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyName       string `json:"policyName"`
		PolicyArn        string `json:"policyArn"`
		PolicyDocument   string `json:"policyDocument"`
		DefaultVersionID string `json:"defaultVersionId"`
		CreationDate     *epoch `json:"creationDate,omitempty"`
		LastModifiedDate *epoch `json:"lastModifiedDate,omitempty"`
	}{pol.Name, pol.ARN, pol.Document, strconv.FormatInt(pol.Version, 10), ts(pol.CreatedAt), ts(pol.CreatedAt)}, nil
}

// listAttachedPolicies is ListAttachedPolicies. The target is a certificate ARN
// (what AWS expects; a bare certificate id is also taken) or a thing group ARN;
// the registry attaches policies to certificates only, so an existing group lists
// none. recursive changes nothing.
func listAttachedPolicies(c *call) (any, error) {
	limit, token, err := c.pageArgs("pageSize", "marker")
	if err != nil {
		return nil, err
	}
	if _, _, err := c.boolArg("recursive"); err != nil {
		return nil, err
	}
	kind, name := splitTarget(c.args[0])
	switch kind {
	case "cert":
		id, err := certIDArg(name)
		if err != nil {
			return nil, err
		}
		if _, err := c.store.GetCertificate(id); err != nil {
			return nil, err
		}
		pols, err := c.store.PoliciesForCertificate(id)
		if err != nil {
			return nil, err
		}
		return policyPage(pols, false, token, limit)
	case "thinggroup":
		if _, err := c.store.GetThingGroup(name); err != nil {
			return nil, err
		}
		return policyPage(nil, false, token, limit)
	}
	return nil, apiErr(codeInvalidRequest, fmt.Sprintf("target %q is not a certificate or thing group ARN", c.args[0]))
}

// splitTarget splits arn:aws:iot:region:account:kind/name; a bare 64-hex id is a
// certificate.
func splitTarget(t string) (kind, name string) {
	if !strings.HasPrefix(t, "arn:") {
		if len(t) == 64 {
			return "cert", t
		}
		return "", ""
	}
	fields := strings.SplitN(t, ":", 6)
	if len(fields) != 6 || fields[2] != "iot" {
		return "", ""
	}
	kind, name, ok := strings.Cut(fields[5], "/")
	if !ok || name == "" {
		return "", ""
	}
	return kind, name
}
