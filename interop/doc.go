// Package interop holds tests that run third-party AWS IoT clients against a mock
// AWS IoT Core region (mockcloud/iotcore): the official AWS IoT Device SDK v2 for
// JavaScript (npm aws-iot-device-sdk-v2, pinned in node/package.json) and the
// mosquitto command-line clients. The package has no code of its own; the tests
// are the point.
//
// The Node.js side is installed by node/install.sh (npm ci from the committed
// package-lock.json). aws-crt, the SDK's native core, ships prebuilt binaries in
// its npm package, so nothing is compiled and no install script runs. Without
// node_modules the SDK tests skip, or fail when CI=true.
//
// # The endpoint name on a rig that resolves nothing
//
// The region answers only for its own names: the TLS server name (SNI) must be the
// custom domain global.iot.example.com, and the server certificate is issued for
// that name alone. Nothing resolves that name to the region's loopback address, and
// the tests do not relax either side: the region keeps refusing a missing or unknown
// SNI, and every client verifies the server certificate against the rig's root CA
// and the name.
//
// Both clients connect by name through a proxy that the test runs on loopback and
// that knows where the name lives, so the name stays unresolved on the client side
// and the client still sends it as SNI and checks it against the certificate:
//
//   - aws-crt (the SDK's transport) uses one host name for the TCP connection and
//     for SNI. Its MQTT 3.1.1 and MQTT 5 client builders both take HTTP proxy
//     options, so the SDK tunnels through an HTTP CONNECT proxy, asking for
//     global.iot.example.com:<port>; TLS runs end to end inside the tunnel.
//   - The mosquitto clients send -h as SNI and accept --proxy socks5h://…, which
//     hands the name to a SOCKS5 proxy unresolved.
//
// The proxies forward only the names they are given and refuse everything else,
// and each test checks that its client really went through the proxy by that name.
// Negative tests show the verification is live: trusting another root, or reaching
// the region under a name its certificate lacks, both clients refuse the server.
package interop
