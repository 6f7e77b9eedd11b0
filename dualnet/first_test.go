package dualnet

import (
	"fmt"
	"testing"
)

func TestFirstLook(t *testing.T) {
	m := testNet(t)
	q := quantizeNet(t, m, 0.5, randInputs(m, 16, 1))
	fmt.Println(q)
	out, err := Run(q, randInputs(q, 1, 99))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(out[0].F)
}
