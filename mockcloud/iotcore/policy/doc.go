// Package policy parses AWS IoT Core policy documents and decides, for one MQTT
// request of one connected client, whether the policies attached to its principal
// allow it.
//
// Parse validates a document once and compiles it; Evaluate runs the compiled
// statements of every policy attached to the principal against one Request. The mock
// region keeps the *Document values and calls Evaluate on every CONNECT, PUBLISH,
// SUBSCRIBE and delivery, so a Document is immutable and safe for concurrent use and
// Evaluate does not allocate.
//
// # What the service documents
//
// Sources: https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html,
// pub-sub-policy.html, iot-policy-variables.html, basic-policy-variables.html,
// thing-policy-variables.html, cert-policy-variables.html, thing-policy-examples.html,
// the CreatePolicy API reference and the IAM user guide pages the IoT pages defer to
// (reference_policies_variables.html, reference_policies_elements_resource.html).
//
//   - Evaluation follows IAM: everything is implicitly denied; an Allow in any attached
//     policy allows; a matching Deny in any attached policy overrides every Allow.
//   - In Resource, "*" matches any run of characters, "/" and ":" included, and "?"
//     exactly one character. MQTT's "+" and "#" have no special meaning in a policy: a
//     resource "topicfilter/some/+/topic" matches only the filter "some/+/topic", while
//     "topicfilter/some/*/topic" also matches "some/+/topic" (the "*" eats the "+").
//     Everything else is literal and case-sensitive.
//   - Action names compare case-insensitively ("iot:publish" is "iot:Publish"); "*" and
//     "iot:*" match every action.
//   - Policy variables ${iot:ClientId}, ${iot:Connection.Thing.ThingName},
//     ${iot:Connection.Thing.IsAttached} and ${iot:CertificateId} are replaced by the
//     request's values before matching. Variable names are case-sensitive: the service
//     rejected "${iot:clientId}" as malformed (awsdocs/aws-iot-docs pull request 9),
//     so Parse rejects a wrong-case spelling of a supported name.
//   - ${*}, ${?} and ${$} stand for a literal "*", "?" and "$" (the IoT page prints them
//     as "$(*)"; the IAM page, which defines them, uses braces).
//   - Variables are replaced only when Version is "2012-10-17". With no Version (or the
//     older "2008-10-17") IAM treats "${...}" as literal text; Parse accepts both, and
//     such a document's "${iot:ClientId}" matches only that literal text.
//   - A variable that has no value (no thing attached to the certificate, a certificate
//     attribute that is absent) is not replaced, and the statement fails to match:
//     "this variable won't be resolved and will result in an access denied error"
//     (thing-policy-examples.html); "not present means ... any attempt to match it
//     fails" (IAM).
//   - A document is at most 2048 characters "excluding whitespace" (CreatePolicy).
//
// # What is not documented, decided here
//
//   - Size: every character that is not whitespace counts, inside strings too, and the
//     limit is MaxDocumentChars. Raw input longer than MaxRawBytes is refused before
//     decoding, whatever its whitespace, so a caller cannot make Parse chew megabytes.
//   - An unresolved variable in one Resource entry makes that entry match nothing; the
//     other entries of the statement still count. In a NotResource entry it makes the
//     whole statement not apply (treating it as "excludes nothing" would widen the
//     statement). IAM only says the statement "might" become invalid.
//   - Substituted values match literally. A client whose id is "*" gains nothing from
//     "topic/${iot:ClientId}/x" beyond the topic "*/x": values are never reparsed as
//     wildcards. This matches the service's documented behaviour for ${iot:ClientId}
//     = "+" (basic-policy-variables.html: the variable yields the literal filter
//     "my/+/topic"), and its refusal to substitute certificate attributes containing
//     wildcards (cert-policy-variables.html).
//   - An empty ClientID, ThingName or CertificateID in Variables means "no value".
//   - Other variable names (the documented ${iot:Connection.Thing.ThingTypeName},
//     ${iot:Connection.Thing.Attributes[name]}, ${iot:Certificate.*}, ${aws:SourceIp},
//     and ${iot:Thing.ThingName}, which appears in AWS's own examples but in no list of
//     variables) are accepted and never resolve, so the entries using them match
//     nothing. Default values ("${name, 'default'}") are rejected.
//   - Condition: a small subset is supported, everything else is rejected with an error
//     naming the operator or key. Operators StringEquals, StringNotEquals,
//     StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike and
//     Bool, each with an optional ForAllValues: or ForAnyValue: prefix and an
//     optional IfExists suffix; keys iot:ClientId, iot:Connection.Thing.ThingName,
//     iot:Connection.Thing.IsAttached, iot:CertificateId and the multi-valued
//     iot:ConnectAttributes (PersistentConnect, LastWill; on iot:Connect only, and
//     only with a set operator, as IAM requires of multi-valued keys). Key names
//     compare case-insensitively, as in IAM. Values may use the policy variables
//     above. IAM's rules apply: values of one key are ORed (NORed for a negated
//     operator), keys and operators are ANDed, a key with no value fails positive
//     operators and satisfies negated ones, and a plain operator with IfExists
//     passes when the key has no value. ForAllValues: holds when every value of the
//     request's set passes, so also for an empty set; ForAnyValue: needs one, so
//     never for an empty set; IfExists changes nothing on a set operator. The
//     ArnEquals/iot:LastWillTopic examples of AWS's pages are rejected.
//   - Element names are case-sensitive and unknown elements are errors; Principal and
//     NotPrincipal are rejected (an IoT policy is attached to its principal). Duplicate
//     JSON keys are not detected: the last one wins, as in encoding/json.
//   - Actions must be "*" or "<service>:<name>" (wildcards allowed). Actions of other
//     services and unknown iot: actions are kept; they never match an MQTT request.
//     Resources are not checked for ARN syntax.
//   - "?" matches one UTF-8 character; a byte that is not valid UTF-8 counts as one.
package policy
