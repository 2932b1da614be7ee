package iotcore

import (
	"crypto/sha256"
	"sync"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/policy"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"go.uber.org/zap"
)

// IoT policy actions the broker checks.
const (
	actConnect   = "iot:Connect"
	actPublish   = "iot:Publish"
	actSubscribe = "iot:Subscribe"
	actReceive   = "iot:Receive"
)

// authorizer evaluates the policies attached to a certificate. Policies are read from
// the registry on every check, so attaching or changing one takes effect on live
// connections; parsed documents are cached by content.
type authorizer struct {
	reg     *registry.Store
	region  string
	account string
	log     *zap.Logger

	mu    sync.Mutex
	cache map[[32]byte]*policy.Document
}

func newAuthorizer(reg *registry.Store, region, account string, log *zap.Logger) *authorizer {
	return &authorizer{reg: reg, region: region, account: account, log: log, cache: map[[32]byte]*policy.Document{}}
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
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		key := sha256.Sum256([]byte(p.Document))
		d, ok := a.cache[key]
		if !ok {
			var err error
			d, err = policy.Parse([]byte(p.Document))
			if err != nil {
				// A broken policy grants nothing; the rest still count.
				a.log.Warn("policy does not parse", zap.String("policy", p.Name), zap.Error(err))
				continue
			}
			a.cache[key] = d
		}
		docs = append(docs, d)
	}
	return docs
}

func (a *authorizer) allowed(p principal, action, resource string) bool {
	docs := a.documents(p.certID)
	if len(docs) == 0 {
		return false
	}
	d := policy.Evaluate(docs, policy.Request{Action: action, Resource: resource},
		policy.Variables{ClientID: p.clientID, ThingName: p.thingName, CertificateID: p.certID})
	return d.Allowed()
}

func (a *authorizer) canConnect(p principal) bool {
	return a.allowed(p, actConnect, policy.ClientARN(a.region, a.account, p.clientID))
}

func (a *authorizer) canPublish(p principal, topic string) bool {
	return a.allowed(p, actPublish, policy.TopicARN(a.region, a.account, topic))
}

func (a *authorizer) canReceive(p principal, topic string) bool {
	return a.allowed(p, actReceive, policy.TopicARN(a.region, a.account, topic))
}

func (a *authorizer) canSubscribe(p principal, filter string) bool {
	return a.allowed(p, actSubscribe, policy.TopicFilterARN(a.region, a.account, filter))
}
