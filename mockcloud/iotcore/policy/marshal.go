package policy

import (
	"bytes"
	"encoding/json"
)

type jsonDocument struct {
	Version   string          `json:"Version,omitempty"`
	ID        string          `json:"Id,omitempty"`
	Statement []jsonStatement `json:"Statement"`
}

type jsonStatement struct {
	Sid         string                         `json:"Sid,omitempty"`
	Effect      string                         `json:"Effect"`
	Action      []string                       `json:"Action,omitempty"`
	NotAction   []string                       `json:"NotAction,omitempty"`
	Resource    []string                       `json:"Resource,omitempty"`
	NotResource []string                       `json:"NotResource,omitempty"`
	Condition   map[string]map[string][]string `json:"Condition,omitempty"`
}

// MarshalJSON writes the document in a canonical form: every Action and Resource as
// a list, keys sorted, no HTML escaping. Parse of the output yields a document that
// decides every request the same way (the output may exceed MaxDocumentChars when
// the input used single strings close to the limit).
func (d *Document) MarshalJSON() ([]byte, error) {
	out := jsonDocument{Version: d.version, ID: d.id, Statement: make([]jsonStatement, 0, len(d.stmts))}
	for i := range d.stmts {
		s := &d.stmts[i]
		js := jsonStatement{Sid: s.sid, Effect: s.effect.String()}
		actions, resources := raws(s.actions), raws(s.resources)
		if s.notAction {
			js.NotAction = actions
		} else {
			js.Action = actions
		}
		if s.notResource {
			js.NotResource = resources
		} else {
			js.Resource = resources
		}
		for _, c := range s.conds {
			if js.Condition == nil {
				js.Condition = map[string]map[string][]string{}
			}
			if js.Condition[c.opName] == nil {
				js.Condition[c.opName] = map[string][]string{}
			}
			js.Condition[c.opName][c.key] = raws(c.values)
		}
		out.Statement = append(out.Statement, js)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func raws(ps []pattern) []string {
	out := make([]string, len(ps))
	for i := range ps {
		out[i] = ps[i].raw
	}
	return out
}
