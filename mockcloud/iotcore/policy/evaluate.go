package policy

// MQTT actions the broker asks about. iot:RetainPublish is checked by the service in
// addition to iot:Publish for a PUBLISH with the retain flag.
const (
	ActionConnect       = "iot:Connect"
	ActionPublish       = "iot:Publish"
	ActionRetainPublish = "iot:RetainPublish"
	ActionSubscribe     = "iot:Subscribe"
	ActionReceive       = "iot:Receive"
)

// Request is one authorization question.
type Request struct {
	// Action is e.g. "iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive".
	Action string
	// Resource is a full ARN: arn:aws:iot:<region>:<acct>:client/<id> for Connect,
	// topic/<topic> for Publish and Receive, topicfilter/<filter> for Subscribe. See
	// ClientARN, TopicARN and TopicFilterARN.
	Resource string
	// ConnectAttributes is the iot:ConnectAttributes set of the CONNECT for an
	// iot:Connect request (see ConnectFlags.Attributes); leave it zero for the
	// others, to which the key does not apply.
	ConnectAttributes ConnectAttributes
}

// Variables are the values of the connection that policy variables stand for. An
// empty field means the variable has no value.
type Variables struct {
	ClientID      string // ${iot:ClientId}
	ThingName     string // ${iot:Connection.Thing.ThingName}; empty: no thing attached
	CertificateID string // ${iot:CertificateId}
	// ${iot:Connection.Thing.IsAttached} is "true" when ThingName is set, else "false".
}

// Decision is the outcome of Evaluate. The zero value denies.
type Decision int

// Decisions. The values are not persisted; String gives their names.
const (
	ImplicitDeny Decision = 0 // no statement allows the request
	Allow        Decision = 1 // a statement allows it and none denies it
	ExplicitDeny Decision = 2 // a Deny statement matches
)

// Allowed reports whether the request may proceed.
func (d Decision) Allowed() bool { return d == Allow }

func (d Decision) String() string {
	switch d {
	case ImplicitDeny:
		return "ImplicitDeny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "Decision(invalid)"
}

// Result is a Decision with the statement that made it, for logs.
type Result struct {
	Decision Decision
	// Policy and Statement index the deciding statement in the docs given to Explain
	// and in that document; both are -1 for ImplicitDeny.
	Policy, Statement int
	// Sid is the deciding statement's Sid, if it has one.
	Sid string
}

// Evaluate applies AWS semantics over all policies attached to a principal: any
// matching explicit Deny wins, else any matching Allow, else implicit deny. Nil
// documents are skipped.
func Evaluate(docs []*Document, req Request, vars Variables) Decision {
	return Explain(docs, req, vars).Decision
}

// Explain is Evaluate that also says which statement decided.
func Explain(docs []*Document, req Request, vars Variables) Result {
	res := Result{Decision: ImplicitDeny, Policy: -1, Statement: -1}
	for i, d := range docs {
		if d == nil {
			continue
		}
		for j := range d.stmts {
			s := &d.stmts[j]
			if s.effect == effectAllow && res.Decision == Allow {
				continue // already allowed; only a Deny can change the outcome
			}
			if !s.applies(&req, &vars) {
				continue
			}
			if s.effect == effectDeny {
				return Result{Decision: ExplicitDeny, Policy: i, Statement: j, Sid: s.sid}
			}
			res = Result{Decision: Allow, Policy: i, Statement: j, Sid: s.sid}
		}
	}
	return res
}

func (s *statement) applies(req *Request, vars *Variables) bool {
	matched := false
	for i := range s.actions {
		if s.actions[i].match(req.Action, nil, true) {
			matched = true
			break
		}
	}
	if matched == s.notAction {
		return false
	}
	if s.notResource {
		// See the package doc: a NotResource entry whose variable has no value makes
		// the statement apply nowhere, rather than exclude nothing.
		for i := range s.resources {
			if s.resources[i].unresolvable(vars) {
				return false
			}
		}
	}
	matched = false
	for i := range s.resources {
		if s.resources[i].match(req.Resource, vars, false) {
			matched = true
			break
		}
	}
	if matched == s.notResource {
		return false
	}
	for i := range s.conds {
		if !s.conds[i].holds(req, vars) {
			return false
		}
	}
	return true
}

// ClientARN is the resource of iot:Connect for a client id.
func ClientARN(region, account, clientID string) string {
	return "arn:aws:iot:" + region + ":" + account + ":client/" + clientID
}

// TopicARN is the resource of iot:Publish and iot:Receive for a topic name.
func TopicARN(region, account, topic string) string {
	return "arn:aws:iot:" + region + ":" + account + ":topic/" + topic
}

// TopicFilterARN is the resource of iot:Subscribe for a topic filter.
func TopicFilterARN(region, account, filter string) string {
	return "arn:aws:iot:" + region + ":" + account + ":topicfilter/" + filter
}
