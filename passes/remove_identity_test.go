package passes

import "testing"

func TestRemoveIdentity(t *testing.T) { runTxtar(t, "remove-identity") }
