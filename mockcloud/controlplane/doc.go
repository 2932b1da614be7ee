// Package controlplane is the mock cloud's control plane: HTTP on loopback in the
// shape of AWS IoT's REST API (restJson1, as botocore's iot service-2.json
// 2015-05-28 declares it), so the aws CLI works against the rig with
// --endpoint-url http://127.0.0.1:PORT.
//
// # Regions
//
// One server answers for every region. The region of a call is the one in the
// SigV4 credential scope of its Authorization header
// (Credential=AKID/yyyymmdd/<region>/<service>/aws4_request) or of a presigned
// X-Amz-Credential parameter; the signature is never checked, and the service
// part may be anything (botocore signs IoT calls as "execute-api"). A call
// without any credential goes to the default region. A malformed credential is
// a 403 IncompleteSignatureException, a region the cloud does not serve a 403
// InvalidSignatureException, as AWS answers a scope for the wrong region.
//
// # Operations
//
//	ListThings                   GET    /things                       maxResults, nextToken, attributeName, attributeValue, usePrefixAttributeValue, thingTypeName, thingGroupName (mock extension)
//	DescribeThing                GET    /things/{thingName}
//	CreateThing                  POST   /things/{thingName}           body thingTypeName, attributePayload; an identical create answers the thing it has
//	DeleteThing                  DELETE /things/{thingName}           expectedVersion; success for a thing that is not there; refused with principals attached
//	ListThingPrincipals          GET    /things/{thingName}/principals maxResults, nextToken
//	AttachThingPrincipal         PUT    /things/{thingName}/principals header x-amzn-principal (a certificate ARN)
//	DetachThingPrincipal         DELETE /things/{thingName}/principals header x-amzn-principal
//	ListThingGroups              GET    /thing-groups                 maxResults, nextToken, parentGroup, namePrefixFilter, recursive
//	DescribeThingGroup           GET    /thing-groups/{thingGroupName}
//	CreateThingGroup             POST   /thing-groups/{thingGroupName} body thingGroupProperties (parentGroupName refused: groups are flat)
//	AddThingToThingGroup         PUT    /thing-groups/addThingToThingGroup body thingGroupName|thingGroupArn, thingName|thingArn
//	ListThingsInThingGroup       GET    /thing-groups/{thingGroupName}/things maxResults, nextToken, recursive
//	ListCertificates             GET    /certificates                 pageSize, marker, isAscendingOrder
//	DescribeCertificate          GET    /certificates/{certificateId}
//	UpdateCertificate            PUT    /certificates/{certificateId}  newStatus=ACTIVE|INACTIVE|REVOKED
//	DeleteCertificate            DELETE /certificates/{certificateId}  forceDelete; refused while ACTIVE (406) or attached (409)
//	RegisterCertificateWithoutCA POST   /certificate/register-no-ca    body certificatePem, status (default INACTIVE)
//	GetRegistrationCode          GET    /registrationcode
//	RegisterCACertificate        POST   /cacertificate                setAsActive, allowAutoRegistration; body caCertificate, verificationCertificate (checked in DEFAULT mode), certificateMode, registrationConfig
//	DescribeCACertificate        GET    /cacertificate/{caCertificateId}
//	ListCACertificates           GET    /cacertificates               pageSize, marker, isAscendingOrder, templateName
//	ListPolicies                 GET    /policies                     pageSize, marker, isAscendingOrder
//	GetPolicy                    GET    /policies/{policyName}
//	CreatePolicy                 POST   /policies/{policyName}        body policyDocument (parsed as the broker will: MalformedPolicyException)
//	DeletePolicy                 DELETE /policies/{policyName}        refused while attached (DeleteConflictException)
//	AttachPolicy                 PUT    /target-policies/{policyName} body target (a certificate ARN)
//	DetachPolicy                 POST   /target-policies/{policyName} body target
//	ListTargetsForPolicy         POST   /policy-targets/{policyName}  pageSize, marker
//	ListAttachedPolicies         POST   /attached-policies/{target}   pageSize, marker, recursive
//	ListProvisioningTemplates    GET    /provisioning-templates       maxResults, nextToken
//	CreateProvisioningTemplate   POST   /provisioning-templates       body templateName, templateBody, provisioningRoleArn, enabled (default false), type, description; preProvisioningHook refused
//	DescribeProvisioningTemplate GET    /provisioning-templates/{templateName}
//	UpdateProvisioningTemplate   PATCH  /provisioning-templates/{templateName} body description, enabled, provisioningRoleArn, defaultVersionId (1 only)
//	DeleteProvisioningTemplate   DELETE /provisioning-templates/{templateName} refused while a CA uses it for JITP
//	DescribeEndpoint             GET    /endpoint                     endpointType
//
// Changes take effect on the broker at once: it reads a certificate's policies
// and status on every operation, so an attached policy allows the next PUBLISH of
// a live connection and a detached one denies it.
//
// Timestamps are epoch seconds (JSON numbers, millisecond fractions). Pages hold
// 25 items unless maxResults/pageSize (1–250) says otherwise; tokens are opaque
// and name the last item handed out, so records added between pages do not shift
// the rest.
//
// Errors have the restJson1 shape botocore parses: the status code, the error
// type in x-amzn-ErrorType, and a body {"__type": type, "message": text}.
// ResourceNotFoundException 404, InvalidRequestException 400,
// CertificateStateException 406 (changing a REVOKED certificate, deleting an
// ACTIVE one), ResourceAlreadyExistsException 409, DeleteConflictException 409,
// VersionConflictException 409, MalformedPolicyException 400,
// CertificateValidationException 400, RegistrationCodeValidationException 400,
// ServiceUnavailableException 503 (a region whose registry is closed or down),
// UnknownOperationException 404 (no operation at that path),
// MethodNotAllowedException 405 (with an Allow header).
//
// # Mock-only calls
//
// Under /_mockcloud/, without SigV4, JSON in and out. Each drives a hook given in
// Options; a call whose hook is nil answers 501 NotImplementedException. A hook
// error wrapping ErrNotFound (or route53.ErrUnknownSetIdentifier) answers 404,
// ErrInvalidArgument 400, anything else 500. Bodies take known fields only.
//
//	| method | path                                  | body                | answer                                            | hook            |
//	|--------|---------------------------------------|---------------------|---------------------------------------------------|-----------------|
//	| GET    | /_mockcloud/health                    | —                   | {"status":"ok","regions":[…],"defaultRegion":…}   | —               |
//	| POST   | /_mockcloud/dns/records/{setId}/health| {"healthy":bool}    | {"setId":…,"healthy":bool}                        | SetRecordHealth |
//	| POST   | /_mockcloud/regions/{region}/down     | {"down":bool}       | {"region":…,"down":bool}; unknown region 404      | SetRegionDown   |
//	| POST   | /_mockcloud/regions/{region}/faults   | faults (iotcore.Faults JSON) | {"region":…,"faults":…}; {} clears; bad field 400 | SetFaults |
//	| POST   | /_mockcloud/clock/advance             | {"seconds":N}       | {"now":RFC 3339,"epoch":seconds}; 0 ≤ N ≤ 100 y   | AdvanceClock    |
//	| GET    | /_mockcloud/clock                     | —                   | {"now":RFC 3339,"epoch":seconds}                  | Now             |
//
// # Differences from AWS
//
// The registry keeps less than AWS does: certificateMode is SNI_ONLY for every
// certificate without a CA (including ones the region issued itself, which AWS
// would call DEFAULT); lastModifiedDate is the creation date; thing groups are
// flat and policies attach to certificates only. DescribeEndpoint returns the
// region's one data endpoint for iot:Data-ATS, iot:Data and no type.
package controlplane
