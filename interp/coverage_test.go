package interp

import (
	"testing"

	"pimc/ir"
)

// Every ONNX-domain op in the IR's table has a kernel. (pimc-domain ops
// are the quantized executor's business.)
func TestEveryONNXOpHasKernel(t *testing.T) {
	for _, op := range ir.Ops() {
		if op.Info().Domain == "" && !Supported(op) {
			t.Errorf("no kernel for %s", op)
		}
	}
}
