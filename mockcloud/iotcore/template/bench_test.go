package template

import "testing"

func BenchmarkEvaluateGatewayTemplate(b *testing.B) {
	tp := mustParse(b, string(readFixture(b, "gateway_default.json")))
	params := map[string]string{"SerialNumber": "GW-000123", "Site": "fra1", ParamCertificateID: "9f2ca1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Evaluate(params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGatewayTemplate(b *testing.B) {
	body := readFixture(b, "gateway_default.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
