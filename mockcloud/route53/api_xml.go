package route53

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// apiNamespace is the XML namespace of every Route 53 request and response
// body (API version 2013-04-01).
const apiNamespace = "https://route53.amazonaws.com/doc/2013-04-01/"

// unknownElement catches an element the schema does not have; Route 53
// validates bodies against its schema and refuses them.
type unknownElement struct {
	XMLName xml.Name
}

// presentElement is a member the mock refuses whatever it holds (VPC,
// AliasTarget, CidrRoutingConfig): only its presence counts.
type presentElement struct{}

// Request bodies. Optional members are pointers so "absent" and "empty"
// stay apart, as Route 53's validation tells them apart. Other collects
// elements the schema does not know.

type createHostedZoneRequest struct {
	XMLName          xml.Name             `xml:"https://route53.amazonaws.com/doc/2013-04-01/ CreateHostedZoneRequest"`
	Name             *string              `xml:"Name"`
	VPC              *presentElement      `xml:"VPC"`
	CallerReference  *string              `xml:"CallerReference"`
	HostedZoneConfig *hostedZoneConfigReq `xml:"HostedZoneConfig"`
	DelegationSetID  *string              `xml:"DelegationSetId"`
	Other            []unknownElement     `xml:",any"`
}

type hostedZoneConfigReq struct {
	Comment     *string          `xml:"Comment"`
	PrivateZone *bool            `xml:"PrivateZone"`
	Other       []unknownElement `xml:",any"`
}

type changeRRSetsRequest struct {
	XMLName     xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ChangeResourceRecordSetsRequest"`
	ChangeBatch *changeBatchReq  `xml:"ChangeBatch"`
	Other       []unknownElement `xml:",any"`
}

type changeBatchReq struct {
	Comment *string          `xml:"Comment"`
	Changes *changesReq      `xml:"Changes"`
	Other   []unknownElement `xml:",any"`
}

type changesReq struct {
	Change []changeReq      `xml:"Change"`
	Other  []unknownElement `xml:",any"`
}

type changeReq struct {
	Action            *string          `xml:"Action"`
	ResourceRecordSet *rrsetXML        `xml:"ResourceRecordSet"`
	Other             []unknownElement `xml:",any"`
}

// rrsetXML is Route 53's ResourceRecordSet, in requests and responses.
type rrsetXML struct {
	Name                    *string             `xml:"Name"`
	Type                    *string             `xml:"Type"`
	SetIdentifier           *string             `xml:"SetIdentifier"`
	Weight                  *int64              `xml:"Weight"`
	Region                  *string             `xml:"Region"`
	GeoLocation             *geoLocationXML     `xml:"GeoLocation"`
	Failover                *string             `xml:"Failover"`
	MultiValueAnswer        *bool               `xml:"MultiValueAnswer"`
	TTL                     *int64              `xml:"TTL"`
	ResourceRecords         *resourceRecordsXML `xml:"ResourceRecords"`
	AliasTarget             *presentElement     `xml:"AliasTarget"`
	HealthCheckID           *string             `xml:"HealthCheckId"`
	TrafficPolicyInstanceID *string             `xml:"TrafficPolicyInstanceId"`
	CidrRoutingConfig       *presentElement     `xml:"CidrRoutingConfig"`
	Other                   []unknownElement    `xml:",any"`
}

type geoLocationXML struct {
	ContinentCode   *string          `xml:"ContinentCode"`
	CountryCode     *string          `xml:"CountryCode"`
	SubdivisionCode *string          `xml:"SubdivisionCode"`
	Other           []unknownElement `xml:",any"`
}

type resourceRecordsXML struct {
	ResourceRecord []resourceRecordXML `xml:"ResourceRecord"`
	Other          []unknownElement    `xml:",any"`
}

type resourceRecordXML struct {
	Value *string          `xml:"Value"`
	Other []unknownElement `xml:",any"`
}

type createHealthCheckRequest struct {
	XMLName           xml.Name           `xml:"https://route53.amazonaws.com/doc/2013-04-01/ CreateHealthCheckRequest"`
	CallerReference   *string            `xml:"CallerReference"`
	HealthCheckConfig *healthCheckConfig `xml:"HealthCheckConfig"`
	Other             []unknownElement   `xml:",any"`
}

// healthCheckConfig is Route 53's HealthCheckConfig, in requests and
// responses.
type healthCheckConfig struct {
	IPAddress                    *string            `xml:"IPAddress"`
	Port                         *int64             `xml:"Port"`
	Type                         *string            `xml:"Type"`
	ResourcePath                 *string            `xml:"ResourcePath"`
	FullyQualifiedDomainName     *string            `xml:"FullyQualifiedDomainName"`
	SearchString                 *string            `xml:"SearchString"`
	RequestInterval              *int64             `xml:"RequestInterval"`
	FailureThreshold             *int64             `xml:"FailureThreshold"`
	MeasureLatency               *bool              `xml:"MeasureLatency"`
	Inverted                     *bool              `xml:"Inverted"`
	Disabled                     *bool              `xml:"Disabled"`
	HealthThreshold              *int64             `xml:"HealthThreshold"`
	ChildHealthChecks            *childHealthChecks `xml:"ChildHealthChecks"`
	EnableSNI                    *bool              `xml:"EnableSNI"`
	Regions                      *healthRegions     `xml:"Regions"`
	AlarmIdentifier              *alarmIdentifier   `xml:"AlarmIdentifier"`
	InsufficientDataHealthStatus *string            `xml:"InsufficientDataHealthStatus"`
	RoutingControlArn            *string            `xml:"RoutingControlArn"`
	Other                        []unknownElement   `xml:",any"`
}

type childHealthChecks struct {
	ChildHealthCheck []string         `xml:"ChildHealthCheck"`
	Other            []unknownElement `xml:",any"`
}

type healthRegions struct {
	Region []string         `xml:"Region"`
	Other  []unknownElement `xml:",any"`
}

type alarmIdentifier struct {
	Region *string          `xml:"Region"`
	Name   *string          `xml:"Name"`
	Other  []unknownElement `xml:",any"`
}

// Response bodies.

type hostedZoneXML struct {
	ID                     string               `xml:"Id"`
	Name                   string               `xml:"Name"`
	CallerReference        string               `xml:"CallerReference"`
	Config                 hostedZoneConfigResp `xml:"Config"`
	ResourceRecordSetCount int64                `xml:"ResourceRecordSetCount"`
}

type hostedZoneConfigResp struct {
	Comment     string `xml:"Comment,omitempty"`
	PrivateZone bool   `xml:"PrivateZone"`
}

type changeInfoXML struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

type delegationSetXML struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

type createHostedZoneResponse struct {
	XMLName       xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ CreateHostedZoneResponse"`
	HostedZone    hostedZoneXML    `xml:"HostedZone"`
	ChangeInfo    changeInfoXML    `xml:"ChangeInfo"`
	DelegationSet delegationSetXML `xml:"DelegationSet"`
}

type getHostedZoneResponse struct {
	XMLName       xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHostedZoneResponse"`
	HostedZone    hostedZoneXML    `xml:"HostedZone"`
	DelegationSet delegationSetXML `xml:"DelegationSet"`
}

type listHostedZonesResponse struct {
	XMLName     xml.Name        `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListHostedZonesResponse"`
	HostedZones []hostedZoneXML `xml:"HostedZones>HostedZone"`
	Marker      string          `xml:"Marker"`
	IsTruncated bool            `xml:"IsTruncated"`
	NextMarker  string          `xml:"NextMarker,omitempty"`
	MaxItems    string          `xml:"MaxItems"`
}

type listHostedZonesByNameResponse struct {
	XMLName          xml.Name        `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListHostedZonesByNameResponse"`
	HostedZones      []hostedZoneXML `xml:"HostedZones>HostedZone"`
	DNSName          string          `xml:"DNSName,omitempty"`
	HostedZoneID     string          `xml:"HostedZoneId,omitempty"`
	IsTruncated      bool            `xml:"IsTruncated"`
	NextDNSName      string          `xml:"NextDNSName,omitempty"`
	NextHostedZoneID string          `xml:"NextHostedZoneId,omitempty"`
	MaxItems         string          `xml:"MaxItems"`
}

type changeInfoResponse struct {
	XMLName    xml.Name
	ChangeInfo changeInfoXML `xml:"ChangeInfo"`
}

type listRRSetsResponse struct {
	XMLName              xml.Name   `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListResourceRecordSetsResponse"`
	ResourceRecordSets   []rrsetXML `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated          bool       `xml:"IsTruncated"`
	NextRecordName       string     `xml:"NextRecordName,omitempty"`
	NextRecordType       string     `xml:"NextRecordType,omitempty"`
	NextRecordIdentifier string     `xml:"NextRecordIdentifier,omitempty"`
	MaxItems             string     `xml:"MaxItems"`
}

type healthCheckXML struct {
	ID                 string            `xml:"Id"`
	CallerReference    string            `xml:"CallerReference"`
	HealthCheckConfig  healthCheckConfig `xml:"HealthCheckConfig"`
	HealthCheckVersion int64             `xml:"HealthCheckVersion"`
}

type healthCheckResponse struct {
	XMLName     xml.Name
	HealthCheck healthCheckXML `xml:"HealthCheck"`
}

type healthCheckObservation struct {
	Region       string       `xml:"Region"`
	IPAddress    string       `xml:"IPAddress"`
	StatusReport statusReport `xml:"StatusReport"`
}

type statusReport struct {
	Status      string `xml:"Status"`
	CheckedTime string `xml:"CheckedTime"`
}

type getHealthCheckStatusResponse struct {
	XMLName      xml.Name                 `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHealthCheckStatusResponse"`
	Observations []healthCheckObservation `xml:"HealthCheckObservations>HealthCheckObservation"`
}

type emptyResponse struct {
	XMLName xml.Name
}

type testDNSAnswerResponse struct {
	XMLName      xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ TestDNSAnswerResponse"`
	Nameserver   string   `xml:"Nameserver"`
	RecordName   string   `xml:"RecordName"`
	RecordType   string   `xml:"RecordType"`
	RecordData   []string `xml:"RecordData>RecordDataEntry"`
	ResponseCode string   `xml:"ResponseCode"`
	Protocol     string   `xml:"Protocol"`
}

type errorResponse struct {
	XMLName   xml.Name    `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ErrorResponse"`
	Error     errorDetail `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type errorDetail struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// responseName gives a response struct without a fixed root its element
// name in the API namespace.
func responseName(op string) xml.Name {
	return xml.Name{Space: apiNamespace, Local: op + "Response"}
}

// errXMLSyntax marks a body that is not well-formed XML or has content after
// its root element.
var errXMLSyntax = errors.New("malformed XML")

// decodeXML reads one XML document into v: the root element must be v's
// (name and namespace), elements the schema lacks are refused, and only
// comments, processing instructions and white space may follow the root.
// The messages follow Route 53's "Invalid XML ; ..." wording.
func decodeXML(body []byte, v any) error {
	dec := xml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var ue xml.UnmarshalError
		if errors.As(err, &ue) && strings.HasPrefix(string(ue), "expected element type") {
			return fmt.Errorf("%w: cvc-elt.1: cannot find the declaration of the root element (want namespace %s)", errXMLSyntax, apiNamespace)
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: premature end of file", errXMLSyntax)
		}
		return fmt.Errorf("%w: %v", errXMLSyntax, err)
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errXMLSyntax, err)
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("%w: content is not allowed in trailing section", errXMLSyntax)
			}
		default:
			return fmt.Errorf("%w: markup after the root element", errXMLSyntax)
		}
	}
	if name, ok := firstUnknown(v); ok {
		return fmt.Errorf("%w: cvc-complex-type.2.4.a: invalid content was found starting with element '%s'", errXMLSyntax, name)
	}
	return nil
}

// firstUnknown finds, depth first, an element that landed in an Other
// field anywhere in v.
func firstUnknown(v any) (string, bool) {
	return walkUnknown(reflect.ValueOf(v))
}

func walkUnknown(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "", false
		}
		return walkUnknown(v.Elem())
	case reflect.Slice:
		for i := range v.Len() {
			if n, ok := walkUnknown(v.Index(i)); ok {
				return n, true
			}
		}
	case reflect.Struct:
		if f := v.FieldByName("Other"); f.IsValid() && f.Len() > 0 {
			return f.Index(0).Interface().(unknownElement).XMLName.Local, true
		}
		for i := range v.NumField() {
			if v.Type().Field(i).Name == "Other" {
				continue
			}
			if n, ok := walkUnknown(v.Field(i)); ok {
				return n, true
			}
		}
	}
	return "", false
}
