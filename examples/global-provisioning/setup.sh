#!/usr/bin/env bash
# Sets an AWS account up for fleetboot's global first boot, with the aws CLI:
# in every region the claim certificate registered without a CA, the claim and
# device policies (the region in their ARNs), the thing group, the fleet
# provisioning template and the maker's CA for JITP; then one Route 53 hosted
# zone whose geolocation records send North America to the first region and
# everyone else to the second.
#
# Against the mock cloud (`mockcloud serve --empty`), set ENDPOINT_URL to its
# control plane; unset, the same calls go to the account your aws CLI is
# configured for.
#
#   CLAIM_CERT=claim.pem MAKER_CA=maker-ca.pem MAKER_CA_KEY=maker-ca.key \
#   ACCOUNT=123456789012 [ENDPOINT_URL=http://127.0.0.1:4566] ./setup.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${CLAIM_CERT:?path of the claim certificate (PEM)}"
: "${MAKER_CA:?path of the maker CA certificate (PEM)}"
: "${MAKER_CA_KEY:?path of the maker CA key, which signs the verification certificate}"
: "${ACCOUNT:?the 12-digit AWS account id}"
NA_REGION=${NA_REGION:-us-east-1}
DEFAULT_REGION=${DEFAULT_REGION:-eu-west-1}
GLOBAL_NAME=${GLOBAL_NAME:-global.iot.example.com}
ZONE=${ZONE:-example.com}
TEMPLATE=GatewayProvisioning
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

awsc() {
  if [ -n "${ENDPOINT_URL:-}" ]; then
    aws --endpoint-url "$ENDPOINT_URL" "$@"
  else
    aws "$@"
  fi
}

# JSON string of a file's text: quotes escaped, lines joined (the templates hold
# no backslashes).
json_string() { tr -d '\n' <"$1" | sed 's/"/\\"/g'; }

for region in "$NA_REGION" "$DEFAULT_REGION"; do
  echo "== $region" >&2
  claim_arn=$(awsc iot register-certificate-without-ca --region "$region" \
    --certificate-pem "file://$CLAIM_CERT" --status ACTIVE --query certificateArn --output text)
  for p in claim device; do
    name=FleetbootClaimPolicy
    [ "$p" = device ] && name=GatewayDevicePolicy
    sed -e "s/REGION/$region/g" -e "s/ACCOUNT/$ACCOUNT/g" -e "s/TEMPLATE/$TEMPLATE/g" \
      "$here/$p-policy.json" >"$work/$p-$region.json"
    awsc iot create-policy --region "$region" --policy-name "$name" \
      --policy-document "file://$work/$p-$region.json" >/dev/null
  done
  awsc iot attach-policy --region "$region" --policy-name FleetbootClaimPolicy --target "$claim_arn"
  awsc iot create-thing-group --region "$region" --thing-group-name gateways >/dev/null
  awsc iot create-provisioning-template --region "$region" --template-name "$TEMPLATE" \
    --template-body "file://$here/$TEMPLATE.json" --enabled \
    --provisioning-role-arn "arn:aws:iam::$ACCOUNT:role/FleetbootProvisioningRole" >/dev/null

  # The maker CA for JITP, with AWS's proof of possession: a certificate for
  # this account's registration code, signed by the CA's key.
  code=$(awsc iot get-registration-code --region "$region" --query registrationCode --output text)
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/verification.key" \
    -subj "/CN=$code" -out "$work/verification.csr" 2>/dev/null
  openssl x509 -req -in "$work/verification.csr" -CA "$MAKER_CA" -CAkey "$MAKER_CA_KEY" \
    -set_serial "0x$(openssl rand -hex 8)" -days 1 -out "$work/verification.pem" 2>/dev/null
  printf '{"templateBody":"%s","roleArn":"arn:aws:iam::%s:role/FleetbootJITPRole"}\n' \
    "$(json_string "$here/jitp-template.json")" "$ACCOUNT" >"$work/jitp-registration.json"
  awsc iot register-ca-certificate --region "$region" --ca-certificate "file://$MAKER_CA" \
    --verification-certificate "file://$work/verification.pem" --set-as-active --allow-auto-registration \
    --registration-config "file://$work/jitp-registration.json" >/dev/null
done

echo "== Route 53: $GLOBAL_NAME" >&2
# Route 53 is one global service; the CLI still signs for a region.
zone_id=$(awsc route53 create-hosted-zone --region us-east-1 --name "$ZONE" --caller-reference "fleetboot-$(date +%s)-$$" \
  --query HostedZone.Id --output text)
zone_id=${zone_id#/hostedzone/}
endpoint() { awsc iot describe-endpoint --region "$1" --endpoint-type iot:Data-ATS --query endpointAddress --output text; }
record() { # set id, GeoLocation JSON, target
  printf '{"Action":"CREATE","ResourceRecordSet":{"Name":"%s","Type":"CNAME","SetIdentifier":"%s","GeoLocation":%s,"TTL":60,"ResourceRecords":[{"Value":"%s"}]}}' \
    "$GLOBAL_NAME" "$1" "$2" "$3"
}
printf '{"Comment":"fleetboot global endpoint","Changes":[%s,%s]}\n' \
  "$(record "$NA_REGION-NA" '{"ContinentCode":"NA"}' "$(endpoint "$NA_REGION")")" \
  "$(record "$DEFAULT_REGION-default" '{"CountryCode":"*"}' "$(endpoint "$DEFAULT_REGION")")" >"$work/records.json"
change=$(awsc route53 change-resource-record-sets --region us-east-1 --hosted-zone-id "$zone_id" \
  --change-batch "file://$work/records.json" --query ChangeInfo.Id --output text)
awsc route53 wait resource-record-sets-changed --region us-east-1 --id "$change"
echo "hosted zone $zone_id: $GLOBAL_NAME answers by location" >&2
