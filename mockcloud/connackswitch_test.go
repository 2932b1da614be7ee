package mockcloud

import (
	"context"
	"testing"
	"time"
)

// The rig file's iot.connackOnRefusal reaches every region, and is off unless
// set (iotcore TestConnectRefusedWithoutConnack and TestConnackOnRefusal show
// what each setting does).
func TestRigConnackOnRefusalSwitch(t *testing.T) {
	for _, on := range []bool{false, true} {
		doc := "regions: [{name: eu-west-1}, {name: us-east-1}]\n"
		if on {
			doc += "iot: {connackOnRefusal: true}\n"
		}
		cfg, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for name, rc := range c.rcfgs {
			if rc.ConnackOnRefusal != on {
				t.Errorf("connackOnRefusal %v in the rig file: region %s has %v", on, name, rc.ConnackOnRefusal)
			}
		}
		c.Close()
	}
}
