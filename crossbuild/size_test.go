package crossbuild

import (
	"os"
	"testing"
)

// releaseBudget is the size the linux/arm64 release binary must fit in, TPM
// keystore included (docs/PERFORMANCE.md, "Binary sizes").
const releaseBudget = 8 << 20

func TestReleaseBinaryFitsBudget(t *testing.T) {
	out := build(t, t.TempDir(), "arm64", "")
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linux/arm64 release binary: %d bytes (%.2f MiB), budget %d", fi.Size(), float64(fi.Size())/(1<<20), releaseBudget)
	if fi.Size() > releaseBudget {
		t.Fatalf("linux/arm64 release binary is %d bytes, %d over the %d-byte budget; `scripts/cross.sh --nm` lists what is large",
			fi.Size(), fi.Size()-releaseBudget, releaseBudget)
	}
}
