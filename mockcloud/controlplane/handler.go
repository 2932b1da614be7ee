package controlplane

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// Region is one region the control plane answers for.
type Region struct {
	Name     string
	Registry *registry.Store
	// Endpoint is the region's ATS data endpoint name, returned by DescribeEndpoint.
	Endpoint string
}

// Options configure a Handler. Regions is required; everything else is optional.
type Options struct {
	Regions []Region
	// DefaultRegion serves requests without a SigV4 credential (curl, scripts);
	// empty means the first region.
	DefaultRegion string
	Logger        *zap.Logger // nil: no logging

	// RegistryOf, when set, is asked for a region's store on every request, so a
	// region that was stopped and restarted with a new store is served from the
	// new one; nil from it means the region is down (503). Unset, Region.Registry
	// is used for the handler's whole life.
	RegistryOf func(region string) *registry.Store

	// SetCertificateStatus, when set, makes UpdateCertificate's change through the
	// region's broker, which also closes the connections using a certificate that
	// is no longer ACTIVE at once (AWS takes up to a few minutes; a test should not
	// have to wait); unset, only the registry changes and the broker notices at its
	// next session check.
	SetCertificateStatus func(region, id, status string) error

	// Mock-only hooks under /_mockcloud/; a nil hook answers 501. A hook's error
	// that wraps ErrNotFound answers 404, ErrInvalidArgument 400, anything else 500.
	SetRecordHealth func(setID string, healthy bool) error
	SetRegionDown   func(region string, down bool) error
	// SetFaults replaces a region's injected faults with those a JSON document
	// describes (its shape is the caller's; an error wrapping ErrInvalidArgument
	// answers 400).
	SetFaults func(region string, doc []byte) error
	// Health, if set, says which component (a region, DNS, the control plane)
	// stopped serving; an error makes GET /_mockcloud/health answer 503 with it.
	Health       func() error
	AdvanceClock func(d time.Duration) (time.Time, error)
	Now          func() time.Time
}

// Handler serves the control plane. It holds no state of its own beyond its
// options, so it is safe for concurrent use and needs no Close.
type Handler struct {
	opts    Options
	regions map[string]Region
	names   []string
	log     *zap.Logger
	routes  []route
}

// New checks opts and builds the handler.
func New(opts Options) (*Handler, error) {
	if len(opts.Regions) == 0 {
		return nil, fmt.Errorf("%w: no regions", ErrInvalidOptions)
	}
	h := &Handler{opts: opts, regions: make(map[string]Region, len(opts.Regions)), log: opts.Logger}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	for i, r := range opts.Regions {
		switch {
		case !validRegionName(r.Name):
			return nil, fmt.Errorf("%w: regions[%d]: name %q is not a region name", ErrInvalidOptions, i, r.Name)
		case r.Registry == nil && opts.RegistryOf == nil:
			return nil, fmt.Errorf("%w: region %q: no registry", ErrInvalidOptions, r.Name)
		}
		if _, dup := h.regions[r.Name]; dup {
			return nil, fmt.Errorf("%w: region %q listed twice", ErrInvalidOptions, r.Name)
		}
		h.regions[r.Name] = r
		h.names = append(h.names, r.Name)
	}
	if h.opts.DefaultRegion == "" {
		h.opts.DefaultRegion = opts.Regions[0].Name
	}
	if _, ok := h.regions[h.opts.DefaultRegion]; !ok {
		return nil, fmt.Errorf("%w: default region %q is not among the regions", ErrInvalidOptions, h.opts.DefaultRegion)
	}
	h.routes = h.apiRoutes()
	return h, nil
}

// call is one API request after routing: the region's store and the path's
// wildcard segments, unescaped.
type call struct {
	h      *Handler
	r      *http.Request
	region Region
	store  *registry.Store
	args   []string
	query  url.Values
}

type opFunc func(c *call) (any, error)

// route is one path shape: literal segments, "*" for one segment, "**" (last
// only) for the rest of the path, which an unescaped ARN may span.
type route struct {
	segs []string
	ops  map[string]namedOp // by HTTP method
}

type namedOp struct {
	name string
	fn   opFunc
}

func (rt route) match(segs []string) ([]string, bool) {
	var args []string
	for i, s := range rt.segs {
		if s == "**" {
			if i >= len(segs) {
				return nil, false
			}
			return append(args, strings.Join(segs[i:], "/")), true
		}
		if i >= len(segs) {
			return nil, false
		}
		switch {
		case s == "*":
			if segs[i] == "" {
				return nil, false
			}
			args = append(args, segs[i])
		case s != segs[i]:
			return nil, false
		}
	}
	return args, len(segs) == len(rt.segs)
}

// splitPath splits the escaped path and unescapes each segment, so an encoded
// "/" (%2F, as botocore sends ARNs) stays inside its segment.
func splitPath(r *http.Request) ([]string, error) {
	p := strings.Trim(r.URL.EscapedPath(), "/")
	if p == "" {
		return nil, nil
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		segs[i] = u
	}
	return segs, nil
}

// ServeHTTP answers AWS IoT REST calls and the mock-only calls under /_mockcloud/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", requestID())
	segs, err := splitPath(r)
	if err != nil {
		h.fail(w, r, "", apiErr(codeInvalidRequest, "malformed path"))
		return
	}
	if len(segs) > 0 && segs[0] == mockPrefix {
		h.serveMock(w, r, segs[1:])
		return
	}
	var (
		op   namedOp
		args []string
	)
	found, allowed := false, []string(nil)
	for _, rt := range h.routes {
		a, ok := rt.match(segs)
		if !ok {
			continue
		}
		found = true
		if o, ok := rt.ops[r.Method]; ok {
			op, args = o, a
			break
		}
		for m := range rt.ops {
			allowed = append(allowed, m)
		}
	}
	switch {
	case !found:
		h.fail(w, r, "", apiErr(codeUnknownOperation, "no operation at "+r.Method+" "+r.URL.Path))
		return
	case op.fn == nil:
		slices.Sort(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		h.fail(w, r, "", apiErr(codeMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path))
		return
	}
	reg, err := h.pickRegion(r)
	if err != nil {
		h.fail(w, r, op.name, err)
		return
	}
	store := reg.Registry
	if h.opts.RegistryOf != nil {
		store = h.opts.RegistryOf(reg.Name)
	}
	if store == nil {
		h.fail(w, r, op.name, apiErr(codeUnavailable, "region "+reg.Name+" is unavailable"))
		return
	}
	out, err := op.fn(&call{h: h, r: r, region: reg, store: store, args: args, query: r.URL.Query()})
	if err != nil {
		h.fail(w, r, op.name, err)
		return
	}
	h.log.Debug("control plane call", zap.String("op", op.name), zap.String("region", reg.Name), zap.Int("status", http.StatusOK))
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) pickRegion(r *http.Request) (Region, error) {
	name, err := requestRegion(r)
	switch {
	case errors.Is(err, errNoAuthorization):
		name = h.opts.DefaultRegion
	case err != nil:
		return Region{}, apiErr(codeIncompleteSignature, err.Error())
	}
	reg, ok := h.regions[name]
	if !ok {
		return Region{}, apiErr(codeInvalidSignature, fmt.Sprintf(
			"Credential should be scoped to a valid region, not '%s'; this cloud serves %s", name, strings.Join(h.names, ", ")))
	}
	return reg, nil
}

// fail writes err as a restJson1 error and logs it once, here.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	ae := toAPIError(err)
	if ae.StatusCode >= 500 {
		h.log.Warn("control plane call failed", zap.String("op", op), zap.String("path", r.URL.Path), zap.Error(err))
	} else {
		h.log.Debug("control plane call refused", zap.String("op", op), zap.String("path", r.URL.Path),
			zap.String("code", ae.Code), zap.Int("status", ae.StatusCode))
	}
	writeError(w, ae)
}

// writeError sends the restJson1 error shape: botocore takes the code from
// x-amzn-ErrorType and the message from the body's "message"; "__type" repeats the
// code for readers that look only at the body.
func writeError(w http.ResponseWriter, ae *APIError) {
	w.Header().Set("x-amzn-ErrorType", ae.Code)
	writeJSON(w, ae.StatusCode, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{ae.Code, ae.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value written here is built from plain structs; reaching this is a bug.
		status = http.StatusInternalServerError
		w.Header().Set("x-amzn-ErrorType", codeInternal)
		body = []byte(`{"__type":"InternalFailureException","message":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing to tell it
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func itoa(n int) string { return strconv.Itoa(n) }
