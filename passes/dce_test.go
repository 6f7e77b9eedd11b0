package passes

import "testing"

func TestEliminateDeadCode(t *testing.T) { runTxtar(t, "dce") }
