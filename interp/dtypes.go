package interp

import (
	"fmt"

	"pimc/ir"
)

// Storage classes that kernels rely on, checked before a kernel runs so
// that a wrongly typed input is an error, not an index panic: shape
// inference checks shapes, and not every op's dtypes.
const (
	anyClass = iota
	floatClass
	intClass
)

// inputClass[op][i] is the storage class input i must have (missing
// entries and inputs past the list: any). A variadic op's entry applies
// to all inputs when it has one element.
var inputClass = map[ir.Op][]int{
	ir.OpConv:             {floatClass, floatClass, floatClass},
	ir.OpGemm:             {floatClass, floatClass, floatClass},
	ir.OpMatMul:           {floatClass, floatClass},
	ir.OpMaxPool:          {floatClass},
	ir.OpAveragePool:      {floatClass},
	ir.OpGlobalAvgPool:    {floatClass},
	ir.OpGlobalMaxPool:    {floatClass},
	ir.OpBatchNorm:        {floatClass, floatClass, floatClass, floatClass, floatClass},
	ir.OpInstanceNorm:     {floatClass, floatClass, floatClass},
	ir.OpLRN:              {floatClass},
	ir.OpSoftmax:          {floatClass},
	ir.OpLogSoftmax:       {floatClass},
	ir.OpMean:             {floatClass},
	ir.OpQuantizeLinear:   {anyClass, floatClass, intClass},
	ir.OpDequantizeLinear: {intClass, floatClass, intClass},
	ir.OpConvInteger:      {intClass, intClass, intClass, intClass},
	ir.OpMatMulInteger:    {intClass, intClass, intClass, intClass},
	ir.OpQLinearConv:      {intClass, floatClass, intClass, intClass, floatClass, intClass, floatClass, intClass, intClass},
	ir.OpQLinearMatMul:    {intClass, floatClass, intClass, intClass, floatClass, intClass, floatClass, intClass},
}

func checkClasses(n *ir.Node, in []*ir.Tensor) error {
	want := inputClass[n.Op]
	for i, t := range in {
		if t == nil {
			continue
		}
		c := anyClass
		switch {
		case i < len(want):
			c = want[i]
		case len(want) == 1 && n.Op.Info().MaxIn < 0:
			c = want[0]
		}
		switch {
		case c == floatClass && !t.DType.IsFloat():
			return fmt.Errorf("input %d is %s, want a float tensor", i, t.DType)
		case c == intClass && !t.DType.IsInt():
			return fmt.Errorf("input %d is %s, want an integer tensor", i, t.DType)
		}
	}
	return nil
}
