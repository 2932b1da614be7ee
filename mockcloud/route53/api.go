package route53

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// APIPrefix is the path every Route 53 API request starts with; mount the
// API there, in front of any other handler of the same listener:
//
//	mux.Handle(route53.APIPrefix, api)
//
// The aws CLI then reaches it with --endpoint-url http://127.0.0.1:PORT.
const APIPrefix = "/2013-04-01/"

// maxAPIBody caps a request body. Route 53 allows 1,000 ResourceRecord
// elements and 32,000 characters of values per change batch, well under this.
const maxAPIBody = 1 << 20

// Route 53's limits per change batch.
const (
	maxBatchRecords = 1000
	maxBatchChars   = 32000
)

// API serves Route 53's REST-XML API (version 2013-04-01) for one Server:
// hosted zones, record sets, changes, health checks and TestDNSAnswer, with
// Route 53's paths, shapes and errors. Every change is served by the
// Server's DNS at once, and TestDNSAnswer is answered by the same code as
// a DNS query. It accepts any request signature. It is safe for concurrent
// use.
//
// The API keeps what DNS does not need (hosted zone IDs, caller
// references, comments, changes, health check settings) itself, and the
// records in the Server. Zones the Server holds that the API did not make
// (the rig file's, or ones added with Server.UpdateZones) appear as hosted
// zones with an ID derived from their name.
type API struct {
	srv *Server
	log *zap.Logger
	now func() time.Time

	mu sync.Mutex // guards the fields below
	// zones by ID; order is the IDs in the order the zones were made.
	zones   map[string]*hostedZone
	order   []string
	changes map[string]changeRecord
	checks  map[string]*healthCheck
	// usedRefs are the caller references of deleted hosted zones and health
	// checks: Route 53 refuses them again.
	usedZoneRefs, usedCheckRefs map[string]bool
	// statePath is where Persist keeps the state; empty: nothing is saved.
	statePath string
	// initial are the zones the Server had when the API was made (the rig
	// file's), by canonical name: a zone still equal to its initial self is not
	// saved, so an edited rig file takes effect on the next start.
	initial map[string]Zone
}

// hostedZone is what Route 53 keeps about a zone besides its records.
type hostedZone struct {
	id, name, callerRef, comment string // name canonical
}

type changeRecord struct {
	submitted time.Time
	comment   string
}

// maxChanges bounds the changes kept for GetChange; the oldest go first.
const maxChanges = 10000

// NewAPI builds the API for srv and takes srv's zones in as hosted zones.
// A nil logger logs nothing.
func NewAPI(srv *Server, logger *zap.Logger) (*API, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	a := &API{
		srv: srv, log: logger.Named("route53api"), now: time.Now,
		zones: make(map[string]*hostedZone), changes: make(map[string]changeRecord),
		checks: make(map[string]*healthCheck), usedZoneRefs: make(map[string]bool), usedCheckRefs: make(map[string]bool),
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	zs, err := a.syncLocked()
	if err != nil {
		return nil, fmt.Errorf("route53 api: %w", err)
	}
	a.initial = make(map[string]Zone)
	for _, z := range zs {
		if name, ok := canonicalName(z.Name); ok {
			a.initial[name] = z
		}
	}
	return a, nil
}

// apiError is an error answer: Route 53's error code, HTTP status and
// message.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errInvalidInput(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidInput", fmt.Sprintf(format, args...)}
}

func errNoSuchHostedZone(id string) *apiError {
	return &apiError{http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: " + id}
}

func errNoSuchHealthCheck(id string) *apiError {
	return &apiError{http.StatusNotFound, "NoSuchHealthCheck", "A health check with id " + id + " does not exist."}
}

func errInvalidChangeBatch(msgs []string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidChangeBatch", "[" + strings.Join(msgs, ", ") + "]"}
}

// call is one request as an operation sees it.
type call struct {
	r      *http.Request
	args   []string // the path segments "*" matched
	body   []byte
	header http.Header // of the response
}

// query returns a query parameter and whether it was given.
func (c *call) query(name string) (string, bool) {
	vs, ok := c.r.URL.Query()[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// route is one operation: its method, path pattern (segments after the
// version; "*" matches one segment) and handler, which returns the status
// and the response body to marshal.
type route struct {
	method  string
	pattern []string
	op      string
	handle  func(a *API, c *call) (int, any, error)
}

var apiRoutes = []route{
	{http.MethodPost, []string{"hostedzone"}, "CreateHostedZone", (*API).createHostedZone},
	{http.MethodGet, []string{"hostedzone"}, "ListHostedZones", (*API).listHostedZones},
	{http.MethodGet, []string{"hostedzone", "*"}, "GetHostedZone", (*API).getHostedZone},
	{http.MethodDelete, []string{"hostedzone", "*"}, "DeleteHostedZone", (*API).deleteHostedZone},
	{http.MethodPost, []string{"hostedzone", "*", "rrset"}, "ChangeResourceRecordSets", (*API).changeRRSets},
	{http.MethodGet, []string{"hostedzone", "*", "rrset"}, "ListResourceRecordSets", (*API).listRRSets},
	{http.MethodGet, []string{"hostedzonesbyname"}, "ListHostedZonesByName", (*API).listHostedZonesByName},
	{http.MethodGet, []string{"change", "*"}, "GetChange", (*API).getChange},
	{http.MethodPost, []string{"healthcheck"}, "CreateHealthCheck", (*API).createHealthCheck},
	{http.MethodGet, []string{"healthcheck", "*"}, "GetHealthCheck", (*API).getHealthCheck},
	{http.MethodDelete, []string{"healthcheck", "*"}, "DeleteHealthCheck", (*API).deleteHealthCheck},
	{http.MethodGet, []string{"healthcheck", "*", "status"}, "GetHealthCheckStatus", (*API).getHealthCheckStatus},
	{http.MethodGet, []string{"testdnsanswer"}, "TestDNSAnswer", (*API).testDNSAnswer},
}

// ServeHTTP answers one Route 53 API request; it implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := a.requestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	segs, ok := splitAPIPath(r.URL)
	if !ok {
		a.writeError(w, reqID, &apiError{http.StatusNotFound, "UnknownOperationException", "no Route 53 operation at " + r.URL.Path})
		return
	}
	var rt *route
	var args []string
	methodMismatch := false
	for i := range apiRoutes {
		m, ok := matchRoute(apiRoutes[i].pattern, segs)
		if !ok {
			continue
		}
		if apiRoutes[i].method != r.Method {
			methodMismatch = true
			continue
		}
		rt, args = &apiRoutes[i], m
		break
	}
	if rt == nil {
		if methodMismatch {
			w.Header().Set("Allow", allowedMethods(segs))
			a.writeError(w, reqID, &apiError{http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method + " is not allowed on " + r.URL.Path})
			return
		}
		a.writeError(w, reqID, &apiError{http.StatusNotFound, "UnknownOperationException", "no Route 53 operation at " + r.URL.Path})
		return
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			a.writeError(w, reqID, errInvalidInput("Invalid request: the request body is larger than %d bytes", maxAPIBody))
			return
		case err != nil:
			a.writeError(w, reqID, errInvalidInput("Invalid request: reading the body: %v", err))
			return
		}
		body = b
	}
	status, resp, err := rt.handle(a, &call{r: r, args: args, body: body, header: w.Header()})
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			a.log.Error("route53 api operation failed", zap.String("op", rt.op), zap.Error(err))
			ae = &apiError{http.StatusInternalServerError, "InternalFailure", "internal error"}
		}
		a.log.Debug("route53 api error", zap.String("op", rt.op), zap.String("code", ae.code), zap.String("message", ae.message))
		a.writeError(w, reqID, ae)
		return
	}
	if r.Method != http.MethodGet {
		if err := a.save(); err != nil {
			a.log.Error("save Route 53 state", zap.String("op", rt.op), zap.Error(err))
			a.writeError(w, reqID, &apiError{http.StatusInternalServerError, "InternalFailure", "the change is served but could not be saved"})
			return
		}
	}
	a.log.Debug("route53 api", zap.String("op", rt.op), zap.Int("status", status))
	a.writeXML(w, status, resp)
}

// splitAPIPath returns the path segments after the version, each
// unescaped (so an ID sent as %2Fhostedzone%2FZ... stays one segment). A
// trailing slash is dropped.
func splitAPIPath(u *url.URL) ([]string, bool) {
	p := u.EscapedPath()
	if !strings.HasPrefix(p, APIPrefix) {
		return nil, false
	}
	p = strings.TrimSuffix(strings.TrimPrefix(p, APIPrefix), "/")
	if p == "" {
		return nil, false
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

func matchRoute(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range pattern {
		switch {
		case p == "*":
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

func allowedMethods(segs []string) string {
	var ms []string
	for _, rt := range apiRoutes {
		if _, ok := matchRoute(rt.pattern, segs); ok {
			ms = append(ms, rt.method)
		}
	}
	return strings.Join(ms, ", ")
}

func (a *API) writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		a.log.Error("marshal route53 api response", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.Write(b)
	if _, err := w.Write(buf.Bytes()); err != nil {
		a.log.Debug("write route53 api response", zap.Error(err))
	}
}

// writeError writes Route 53's error document.
func (a *API) writeError(w http.ResponseWriter, reqID string, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	a.writeXML(w, e.status, errorResponse{
		Error:     errorDetail{Type: typ, Code: e.code, Message: e.message},
		RequestID: reqID,
	})
}

// requestID makes a request ID in the UUID form Route 53 uses.
func (a *API) requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// idAlphabet is the upper-case base32 alphabet; Route 53's zone and change
// IDs are upper-case letters and digits.
var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID makes a Route 53-style ID: prefix and 20 random characters.
func newID(prefix string) string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])[:20]
}

// nameZoneID is the ID of a zone the API took in rather than made: derived
// from the name, so it is the same on every start.
func nameZoneID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "Z" + idEncoding.EncodeToString(sum[:13])[:20]
}

// stripIDPrefix removes the "/hostedzone/"-style prefix Route 53 puts on
// IDs in responses; clients may send IDs either way.
func stripIDPrefix(id, kind string) string {
	return strings.TrimPrefix(id, "/"+kind+"/")
}

// timestamp formats t as Route 53 does (ISO 8601, milliseconds, UTC).
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// recordChangeLocked keeps a change for GetChange and returns its
// ChangeInfo as a mutation reports it (PENDING, as Route 53 does; GetChange
// then says INSYNC). Needs a.mu.
func (a *API) recordChangeLocked(comment string) changeInfoXML {
	id := newID("C")
	now := a.now()
	if len(a.changes) >= maxChanges {
		var oldestID string
		var oldest time.Time
		for cid, c := range a.changes {
			if oldestID == "" || c.submitted.Before(oldest) {
				oldestID, oldest = cid, c.submitted
			}
		}
		delete(a.changes, oldestID)
	}
	a.changes[id] = changeRecord{submitted: now, comment: comment}
	return changeInfoXML{ID: "/change/" + id, Status: "PENDING", SubmittedAt: timestamp(now), Comment: comment}
}

func (a *API) getChange(c *call) (int, any, error) {
	id := stripIDPrefix(c.args[0], "change")
	a.mu.Lock()
	ch, ok := a.changes[id]
	a.mu.Unlock()
	if !ok {
		return 0, nil, &apiError{http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist."}
	}
	return http.StatusOK, changeInfoResponse{
		XMLName:    responseName("GetChange"),
		ChangeInfo: changeInfoXML{ID: "/change/" + id, Status: "INSYNC", SubmittedAt: timestamp(ch.submitted), Comment: ch.comment},
	}, nil
}
