package provisioning

import "testing"

func BenchmarkCodec(b *testing.B) {
	for _, f := range []Format{FormatJSON, FormatCBOR} {
		for _, m := range wireMessages() {
			data, err := Marshal(f, m.v)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("Marshal/"+string(f)+"/"+m.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := Marshal(f, m.v); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Unmarshal/"+string(f)+"/"+m.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if err := Unmarshal(f, data, m.ptr()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkParseTopic(b *testing.B) {
	topic := RegisterThingTopic("GatewayTemplate", FormatJSON).Reply(Accepted)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := ParseTopic(topic); !ok {
			b.Fatal("not parsed")
		}
	}
}
