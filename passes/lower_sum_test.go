package passes

import "testing"

func TestLowerSum(t *testing.T) { runTxtar(t, "lower-sum") }
