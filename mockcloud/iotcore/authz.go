package iotcore

import (
	"sync"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/policy"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"go.uber.org/zap"
)

// IoT policy actions the broker checks.
const (
	actConnect       = policy.ActionConnect
	actPublish       = policy.ActionPublish
	actRetainPublish = policy.ActionRetainPublish
	actSubscribe     = policy.ActionSubscribe
	actReceive       = policy.ActionReceive
)

// authorizer evaluates the policies attached to a certificate. Policies are read
// from the registry on every check, so attaching or changing one takes effect on
// live connections; the registry answers those reads from memory, and parsed
// documents are kept here by policy name for as long as the document is the same.
type authorizer struct {
	reg     *registry.Store
	region  string
	account string
	log     *zap.Logger

	mu     sync.RWMutex
	parsed map[string]parsedPolicy // by policy name
}

// parsedPolicy is a policy document and its parse; doc nil: it does not parse.
type parsedPolicy struct {
	text string
	doc  *policy.Document
}

func newAuthorizer(reg *registry.Store, region, account string, log *zap.Logger) *authorizer {
	return &authorizer{reg: reg, region: region, account: account, log: log, parsed: map[string]parsedPolicy{}}
}

// principal is who a connection is, for policy variables.
type principal struct {
	certID    string
	clientID  string
	thingName string // set only when the client id names a thing attached to the certificate
}

func (a *authorizer) documents(certID string) []*policy.Document {
	ps, err := a.reg.PoliciesForCertificate(certID)
	if err != nil {
		a.log.Warn("read policies", zap.String("certificate_id", certID), zap.Error(err))
		return nil
	}
	docs := make([]*policy.Document, 0, len(ps))
	for _, p := range ps {
		if d := a.document(p); d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// document parses p's document once per version of it. A broken policy grants
// nothing; the others still count.
func (a *authorizer) document(p registry.Policy) *policy.Document {
	a.mu.RLock()
	pp, ok := a.parsed[p.Name]
	a.mu.RUnlock()
	if ok && pp.text == p.Document {
		return pp.doc
	}
	d, err := policy.Parse([]byte(p.Document))
	if err != nil {
		a.log.Warn("policy does not parse", zap.String("policy", p.Name), zap.Error(err))
		d = nil
	}
	a.mu.Lock()
	a.parsed[p.Name] = parsedPolicy{text: p.Document, doc: d}
	a.mu.Unlock()
	return d
}

func (a *authorizer) allowed(p principal, action, resource string) bool {
	return a.allowedRequest(p, policy.Request{Action: action, Resource: resource})
}

func (a *authorizer) allowedRequest(p principal, req policy.Request) bool {
	docs := a.documents(p.certID)
	if len(docs) == 0 {
		return false
	}
	d := policy.Evaluate(docs, req,
		policy.Variables{ClientID: p.clientID, ThingName: p.thingName, CertificateID: p.certID})
	return d.Allowed()
}

// canConnect is the iot:Connect check of a CONNECT whose iot:ConnectAttributes
// (persistent session, Will) are attrs.
func (a *authorizer) canConnect(p principal, attrs policy.ConnectAttributes) bool {
	return a.allowedRequest(p, policy.Request{Action: actConnect,
		Resource: policy.ClientARN(a.region, a.account, p.clientID), ConnectAttributes: attrs})
}

func (a *authorizer) canPublish(p principal, topic string) bool {
	return a.allowed(p, actPublish, policy.TopicARN(a.region, a.account, topic))
}

// canRetainPublish is the check a PUBLISH with RETAIN set, and a CONNECT with a
// retained Will, need on the topic besides iot:Publish (AWS IoT Developer Guide,
// "Retained message policy examples").
func (a *authorizer) canRetainPublish(p principal, topic string) bool {
	return a.allowed(p, actRetainPublish, policy.TopicARN(a.region, a.account, topic))
}

func (a *authorizer) canReceive(p principal, topic string) bool {
	return a.allowed(p, actReceive, policy.TopicARN(a.region, a.account, topic))
}

func (a *authorizer) canSubscribe(p principal, filter string) bool {
	return a.allowed(p, actSubscribe, policy.TopicFilterARN(a.region, a.account, filter))
}
