package iotcore

import "errors"

// errFirstConnection ends the connection that auto-registered its certificate.
var errFirstConnection = errors.New("first connection after auto-registration is closed")

var (
	// ErrNotLoopback means Config.Addr is not a loopback IP address.
	ErrNotLoopback = errors.New("address is not loopback")
	// ErrConfig means a Config field is missing or invalid.
	ErrConfig = errors.New("invalid region config")
	// ErrStarted means Start was called twice.
	ErrStarted = errors.New("region already started")
	// ErrClosed means the region was closed.
	ErrClosed = errors.New("region closed")
	// ErrSNIMissing means a client sent no SNI and AllowMissingSNI is off.
	ErrSNIMissing = errors.New("TLS client sent no server name")
	// ErrSNIUnknown means a client's SNI names neither the ATS endpoint nor a custom domain.
	ErrSNIUnknown = errors.New("TLS server name is not an endpoint of this region")
	// ErrALPNRequired means a RequireALPN listener met a client not offering x-amzn-mqtt-ca.
	ErrALPNRequired = errors.New("client did not offer ALPN x-amzn-mqtt-ca")
	// ErrCertificateRejected means the client certificate is unknown or not ACTIVE.
	ErrCertificateRejected = errors.New("client certificate not registered and active in this region")
	// ErrJITPTemplate means RegisterCA was given a template JITP cannot use.
	ErrJITPTemplate = errors.New("invalid JITP template")
)
