package mockcloud

import (
	"strings"
	"testing"
)

func TestParseFaultsRefusesOutOfRangeDurations(t *testing.T) {
	for _, tc := range []struct{ doc, field string }{
		{`{"delayReply":{"ms":9223372036854775807}}`, "delayReply.ms"},
		{`{"delayReply":{"ms":86400001}}`, "delayReply.ms"},
		{`{"clientIdConnectIntervalMs":9223372036854775807}`, "clientIdConnectIntervalMs"},
		{`{"delayReply":{"ms":1},"bogus":1}`, "bogus"},
	} {
		f, err := ParseFaults([]byte(tc.doc))
		if err == nil {
			t.Errorf("ParseFaults(%s) = %+v, want an error naming %s", tc.doc, f, tc.field)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("ParseFaults(%s) error %q does not name %s", tc.doc, err, tc.field)
		}
	}
	if _, err := ParseFaults([]byte(`{"delayReply":{"ms":86400000}}`)); err != nil {
		t.Errorf("a one-day delay refused: %v", err)
	}
}
