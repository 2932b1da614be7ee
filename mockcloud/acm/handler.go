package acm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// TargetPrefix starts the X-Amz-Target header of every ACM call.
const TargetPrefix = "CertificateManager."

// maxBody bounds a request: the model's largest blob (the chain, 2 MiB) in base64.
const maxBody = 3 << 20

// Options configure the service.
type Options struct {
	Regions []string
	Account string
	// DataDir holds one store file per region, <DataDir>/<region>/acm.json.
	DataDir string
	// RegionOf picks a request's region (the rig's one rule for every API).
	RegionOf func(r *http.Request) (string, error)
	// InUse, if set, names what uses a certificate (a domain configuration);
	// DeleteCertificate refuses one in use.
	InUse  func(region, arn string) []string
	Now    func() time.Time
	Logger *zap.Logger
}

// Service answers ACM calls for every region of the rig.
type Service struct {
	opts   Options
	stores map[string]*store
	log    *zap.Logger
}

// New opens each region's store.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.RegionOf == nil {
		return nil, errors.New("acm: no RegionOf")
	}
	s := &Service{opts: opts, stores: map[string]*store{}, log: opts.Logger}
	for _, r := range opts.Regions {
		st, err := openStore(filepath.Join(opts.DataDir, r, "acm.json"))
		if err != nil {
			return nil, fmt.Errorf("acm %s: %w", r, err)
		}
		s.stores[r] = st
	}
	return s, nil
}

// IsCall reports whether r is an ACM call, for the rig's router.
func IsCall(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// Certificate returns an imported certificate with its key, for the rig's TLS
// server (a custom domain's server certificate).
func (s *Service) Certificate(region, arn string) (*Certificate, error) {
	st, ok := s.stores[region]
	if !ok {
		return nil, fmt.Errorf("acm: no region %s", region)
	}
	return st.get(arn)
}

// apiError is ACM's JSON 1.1 error: HTTP 400 and {"__type", "message"}.
type apiError struct {
	code, msg string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) error {
	return &apiError{"ValidationException", fmt.Sprintf(format, args...)}
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newUUID())
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	out, err := s.serve(r, op)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Warn("acm call failed", zap.String("op", op), zap.Error(err))
			ae = &apiError{"InternalFailure", err.Error()}
			writeJSON(w, http.StatusInternalServerError, map[string]string{"__type": ae.code, "message": ae.msg})
			return
		}
		s.log.Debug("acm call refused", zap.String("op", op), zap.String("code", ae.code))
		writeJSON(w, http.StatusBadRequest, map[string]string{"__type": ae.code, "message": ae.msg})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"__type":"InternalFailure","message":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Service) serve(r *http.Request, op string) (any, error) {
	if r.Method != http.MethodPost {
		return nil, &apiError{"UnknownOperationException", "ACM takes POST /"}
	}
	region, err := s.opts.RegionOf(r)
	if err != nil {
		return nil, &apiError{"IncompleteSignatureException", err.Error()}
	}
	st, ok := s.stores[region]
	if !ok {
		return nil, &apiError{"InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'", region)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, validation("read body: %v", err)
	}
	if len(body) > maxBody {
		return nil, validation("body larger than %d bytes", maxBody)
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	c := &call{s: s, region: region, st: st, body: body}
	switch op {
	case "ImportCertificate":
		return c.importCertificate()
	case "DescribeCertificate":
		return c.describeCertificate()
	case "GetCertificate":
		return c.getCertificate()
	case "ListCertificates":
		return c.listCertificates()
	case "DeleteCertificate":
		return c.deleteCertificate()
	}
	return nil, &apiError{"UnknownOperationException", fmt.Sprintf("operation %q is not served by this cloud", op)}
}

type call struct {
	s      *Service
	region string
	st     *store
	body   []byte
}

func (c *call) decode(v any) error {
	if err := json.Unmarshal(c.body, v); err != nil {
		return &apiError{"SerializationException", err.Error()}
	}
	return nil
}

// checkARN refuses what is not an ACM certificate ARN of this region and account.
func (c *call) checkARN(arn string) error {
	prefix := "arn:aws:acm:" + c.region + ":" + c.s.opts.Account + ":certificate/"
	if !strings.HasPrefix(arn, prefix) || len(arn) == len(prefix) {
		return &apiError{"InvalidArnException", fmt.Sprintf("%q is not an ACM certificate ARN of %s", arn, c.region)}
	}
	return nil
}

func (c *call) find(arn string) (*Certificate, error) {
	if err := c.checkARN(arn); err != nil {
		return nil, err
	}
	x, err := c.st.get(arn)
	if errors.Is(err, ErrNotFound) {
		return nil, &apiError{"ResourceNotFoundException", fmt.Sprintf("Could not find certificate %s.", arn)}
	}
	return x, err
}

func (c *call) importCertificate() (any, error) {
	var in struct {
		CertificateArn   string
		Certificate      []byte // JSON 1.1 blobs are base64
		PrivateKey       []byte
		CertificateChain []byte
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	defer clear(in.PrivateKey)
	now := c.s.opts.Now().UTC()
	rec, err := checkImport(in.Certificate, in.PrivateKey, in.CertificateChain, now)
	if err != nil {
		return nil, err
	}
	if in.CertificateArn != "" {
		if _, err := c.find(in.CertificateArn); err != nil {
			return nil, err
		}
	}
	rec.ARN, rec.CreatedAt, rec.ImportedAt = in.CertificateArn, now, now
	out, err := c.st.put(rec, func() string {
		return "arn:aws:acm:" + c.region + ":" + c.s.opts.Account + ":certificate/" + newUUID()
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{"CertificateArn": out.ARN}, nil
}

// certificateArg is the certificate a call names in its CertificateArn.
func (c *call) certificateArg() (*Certificate, error) {
	var in struct{ CertificateArn string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return c.find(in.CertificateArn)
}

func (c *call) describeCertificate() (any, error) {
	x, err := c.certificateArg()
	if err != nil {
		return nil, err
	}
	inUse := c.inUse(x.ARN)
	return map[string]any{"Certificate": map[string]any{
		"CertificateArn": x.ARN, "DomainName": x.Domain, "SubjectAlternativeNames": nonNil(x.SANs),
		"Serial": x.Serial, "Subject": x.Subject, "Issuer": x.Issuer,
		"CreatedAt": epoch(x.CreatedAt), "ImportedAt": epoch(x.ImportedAt), "Status": "ISSUED",
		"NotBefore": epoch(x.NotBefore), "NotAfter": epoch(x.NotAfter),
		"KeyAlgorithm": x.KeyAlg, "SignatureAlgorithm": x.SigAlg, "InUseBy": nonNil(inUse),
		"Type": "IMPORTED", "RenewalEligibility": "INELIGIBLE",
	}}, nil
}

func (c *call) getCertificate() (any, error) {
	x, err := c.certificateArg()
	if err != nil {
		return nil, err
	}
	out := map[string]string{"Certificate": x.CertPEM}
	if x.ChainPEM != "" {
		out["CertificateChain"] = x.ChainPEM
	}
	return out, nil
}

// listCertificates filters as ACM does: without Includes.keyTypes only RSA_1024
// and RSA_2048 certificates are listed.
func (c *call) listCertificates() (any, error) {
	var in struct {
		CertificateStatuses []string
		Includes            struct{ KeyTypes []string }
		NextToken           string
		MaxItems            int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	keyTypes := in.Includes.KeyTypes
	if len(keyTypes) == 0 {
		keyTypes = []string{"RSA_1024", "RSA_2048"}
	}
	if in.MaxItems < 0 || in.MaxItems > 1000 {
		return nil, &apiError{"ValidationException", "MaxItems must be 1 to 1000"}
	}
	limit := in.MaxItems
	if limit == 0 {
		limit = 1000
	}
	var all []Certificate
	for _, x := range c.st.list() {
		if !slices.Contains(keyTypes, x.KeyAlg) {
			continue
		}
		if len(in.CertificateStatuses) > 0 && !slices.Contains(in.CertificateStatuses, "ISSUED") {
			continue
		}
		all = append(all, x)
	}
	start := 0
	if in.NextToken != "" {
		start = len(all)
		for i, x := range all {
			if x.ARN == in.NextToken {
				start = i
				break
			}
		}
		if start == len(all) {
			return nil, &apiError{"InvalidArgsException", "NextToken is not one this service handed out"}
		}
	}
	end := min(start+limit, len(all))
	out := struct {
		CertificateSummaryList []map[string]any
		NextToken              string `json:",omitempty"`
	}{CertificateSummaryList: []map[string]any{}}
	for _, x := range all[start:end] {
		out.CertificateSummaryList = append(out.CertificateSummaryList, map[string]any{
			"CertificateArn": x.ARN, "DomainName": x.Domain, "SubjectAlternativeNameSummaries": nonNil(x.SANs),
			"Status": "ISSUED", "Type": "IMPORTED", "KeyAlgorithm": x.KeyAlg, "InUse": len(c.inUse(x.ARN)) > 0,
			"NotBefore": epoch(x.NotBefore), "NotAfter": epoch(x.NotAfter), "CreatedAt": epoch(x.CreatedAt), "ImportedAt": epoch(x.ImportedAt),
		})
	}
	if end < len(all) {
		out.NextToken = all[end].ARN
	}
	return out, nil
}

func (c *call) deleteCertificate() (any, error) {
	x, err := c.certificateArg()
	if err != nil {
		return nil, err
	}
	if users := c.inUse(x.ARN); len(users) > 0 {
		return nil, &apiError{"ResourceInUseException", fmt.Sprintf("Certificate %s is in use by %s.", x.ARN, strings.Join(users, ", "))}
	}
	if err := c.st.remove(x.ARN); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (c *call) inUse(arn string) []string {
	if c.s.opts.InUse == nil {
		return nil
	}
	return c.s.opts.InUse(c.region, arn)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// epoch is a JSON 1.1 timestamp: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
