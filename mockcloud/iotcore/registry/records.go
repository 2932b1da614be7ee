package registry

import (
	"encoding/json"
	"fmt"
	"time"
)

// Certificate statuses, as AWS IoT spells them.
const (
	StatusActive            = "ACTIVE"
	StatusInactive          = "INACTIVE"
	StatusRevoked           = "REVOKED"
	StatusPendingActivation = "PENDING_ACTIVATION"
	StatusPendingTransfer   = "PENDING_TRANSFER"
)

// Template types.
const (
	TemplateFleetProvisioning = "FLEET_PROVISIONING"
	TemplateJITP              = "JITP"
)

// CACertificate is a registered CA. JITP uses AutoRegistration and the template.
type CACertificate struct {
	ID                    string    `json:"id"`
	ARN                   string    `json:"arn"`
	PEM                   string    `json:"pem"`
	Status                string    `json:"status"` // ACTIVE or INACTIVE
	AllowAutoRegistration bool      `json:"allowAutoRegistration"`
	TemplateName          string    `json:"templateName,omitempty"`
	TemplateBody          string    `json:"templateBody,omitempty"`
	RoleARN               string    `json:"roleArn,omitempty"`
	CreatedAt             time.Time `json:"createdAt"`
}

// Certificate is a device certificate. CAID is empty for a certificate registered
// without CA (AWS's SNI_ONLY mode) and for certificates the region issued itself,
// which chain to the rig root the way AWS-issued ones chain to Amazon's.
type Certificate struct {
	ID        string    `json:"id"` // 64 lowercase hex, SHA-256 of the DER
	ARN       string    `json:"arn"`
	PEM       string    `json:"pem"`
	Status    string    `json:"status"`
	CAID      string    `json:"caId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Thing is a registry thing.
type Thing struct {
	Name       string            `json:"name"`
	ARN        string            `json:"arn"`
	TypeName   string            `json:"typeName,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Groups     []string          `json:"groups,omitempty"`
	Version    int64             `json:"version"`
	CreatedAt  time.Time         `json:"createdAt"`
}

// ThingGroup is a static thing group.
type ThingGroup struct {
	Name        string            `json:"name"`
	ARN         string            `json:"arn"`
	Description string            `json:"description,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	Version     int64             `json:"version"`
	CreatedAt   time.Time         `json:"createdAt"`
}

// Policy is an IoT policy; only the default version is kept.
type Policy struct {
	Name      string    `json:"name"`
	ARN       string    `json:"arn"`
	Document  string    `json:"document"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
}

// Template is a provisioning template.
type Template struct {
	Name        string    `json:"name"`
	ARN         string    `json:"arn"`
	Body        string    `json:"body"`
	Enabled     bool      `json:"enabled"`
	Type        string    `json:"type"`
	Description string    `json:"description,omitempty"`
	RoleARN     string    `json:"roleArn,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Token is a stored ownership token: only its SHA-256 is kept, never the token.
type Token struct {
	Hash      string    `json:"hash"` // hex SHA-256 of the token
	CertID    string    `json:"certId"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Used is set when RegisterThing consumed the token but kept it, so that a
	// retry of the same request can be answered again (RegisterThingRequest.KeepToken).
	Used bool `json:"used,omitempty"`
	// Request identifies the request that used it (template and parameters, hashed)
	// and ThingName is what it answered.
	Request   string `json:"request,omitempty"`
	ThingName string `json:"thingName,omitempty"`
}

// Record is what DecodeRecord can decode: every stored value type.
type Record interface {
	*CACertificate | *Certificate | *Thing | *ThingGroup | *Policy | *Template | *Token
}

// DecodeRecord decodes a stored value. It is the one path from disk bytes to records.
func DecodeRecord[T Record](data []byte, v T) error { return decode(data, v) }

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}
