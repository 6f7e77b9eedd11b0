package interp

import (
	"math"
	"testing"

	"pimc/ir"
)

type kcase struct {
	name string
	n    *ir.Node
	in   []*ir.Tensor
	want []*ir.Tensor
}

func TestKernels(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []kcase{
		// Broadcasting and integer wrap-around.
		{"add_bcast", mk(ir.OpAdd, 1, nil), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6), ft(sh(3), 10, 20, 30)}, []*ir.Tensor{ft(sh(2, 3), 11, 22, 33, 14, 25, 36)}},
		{"add_bcast_both", mk(ir.OpAdd, 1, nil), []*ir.Tensor{ft(sh(2, 1), 1, 2), ft(sh(1, 3), 10, 20, 30)}, []*ir.Tensor{ft(sh(2, 3), 11, 21, 31, 12, 22, 32)}},
		{"add_scalar", mk(ir.OpAdd, 1, nil), []*ir.Tensor{ft(sh(), 1), ft(sh(2), 1, 2)}, []*ir.Tensor{ft(sh(2), 2, 3)}},
		{"add_empty", mk(ir.OpAdd, 1, nil), []*ir.Tensor{ft(sh(0, 3)), ft(sh(3), 1, 2, 3)}, []*ir.Tensor{ft(sh(0, 3))}},
		{"add_int8_wrap", mk(ir.OpAdd, 1, nil), []*ir.Tensor{it(ir.Int8, sh(2), 100, -100), it(ir.Int8, sh(2), 100, -100)}, []*ir.Tensor{it(ir.Int8, sh(2), -56, 56)}},
		{"sub_uint8_wrap", mk(ir.OpSub, 1, nil), []*ir.Tensor{it(ir.Uint8, sh(2), 3, 200), it(ir.Uint8, sh(2), 5, 100)}, []*ir.Tensor{it(ir.Uint8, sh(2), 254, 100)}},
		{"mul_uint8_wrap", mk(ir.OpMul, 1, nil), []*ir.Tensor{it(ir.Uint8, sh(1), 16), it(ir.Uint8, sh(1), 17)}, []*ir.Tensor{it(ir.Uint8, sh(1), 16)}},
		{"div_int8_trunc", mk(ir.OpDiv, 1, nil), []*ir.Tensor{it(ir.Int8, sh(3), 7, -7, -128), it(ir.Int8, sh(3), 2, 2, -1)}, []*ir.Tensor{it(ir.Int8, sh(3), 3, -3, -128)}},
		{"max_uint8", mk(ir.OpMax, 1, nil), []*ir.Tensor{it(ir.Uint8, sh(3), 1, 200, 3), it(ir.Uint8, sh(3), 250, 2, 3)}, []*ir.Tensor{it(ir.Uint8, sh(3), 250, 200, 3)}},
		{"min_int8_3", mk(ir.OpMin, 1, nil), []*ir.Tensor{it(ir.Int8, sh(2), 1, -5), it(ir.Int8, sh(1), 0), it(ir.Int8, sh(2), -3, 3)}, []*ir.Tensor{it(ir.Int8, sh(2), -3, -5)}},
		{"sum_one", mk(ir.OpSum, 1, nil), []*ir.Tensor{ft(sh(2), 1, 2)}, []*ir.Tensor{ft(sh(2), 1, 2)}},
		{"mean_bcast", mk(ir.OpMean, 1, nil), []*ir.Tensor{ft(sh(2), 1, 2), ft(sh(1), 3), ft(sh(2), 5, 1)}, []*ir.Tensor{ft(sh(2), 3, 2)}},
		{"prelu_chan", mk(ir.OpPRelu, 1, nil), []*ir.Tensor{ft(sh(1, 2, 2), -1, 1, -2, 2), ft(sh(2, 1), 0.5, 0.25)}, []*ir.Tensor{ft(sh(1, 2, 2), -0.5, 1, -0.5, 2)}},
		{"pow_int_exp", mk(ir.OpPow, 1, nil), []*ir.Tensor{ft(sh(3), 2, 3, 4), it(ir.Int64, sh(1), 2)}, []*ir.Tensor{ft(sh(3), 4, 9, 16)}},
		// Unary.
		{"relu", mk(ir.OpRelu, 1, nil), []*ir.Tensor{ft(sh(3), -1, 0, 2)}, []*ir.Tensor{ft(sh(3), 0, 0, 2)}},
		{"leakyrelu", mk(ir.OpLeakyRelu, 1, ir.Attrs{"alpha": af(0.1)}), []*ir.Tensor{ft(sh(2), -10, 3)}, []*ir.Tensor{ft(sh(2), -1, 3)}},
		{"hardswish", mk(ir.OpHardSwish, 1, nil), []*ir.Tensor{ft(sh(4), -4, -1, 1, 4)}, []*ir.Tensor{ft(sh(4), 0, -1.0/3, 2.0/3, 4)}},
		{"hardsigmoid", mk(ir.OpHardSigmoid, 1, nil), []*ir.Tensor{ft(sh(3), -5, 0, 1)}, []*ir.Tensor{ft(sh(3), 0, 0.5, 0.7)}},
		{"round_even", mk(ir.OpRound, 1, nil), []*ir.Tensor{ft(sh(5), 0.5, 1.5, 2.5, -0.5, -1.5)}, []*ir.Tensor{ft(sh(5), 0, 2, 2, 0, -2)}},
		{"sign", mk(ir.OpSign, 1, nil), []*ir.Tensor{ft(sh(3), -3, 0, 2)}, []*ir.Tensor{ft(sh(3), -1, 0, 1)}},
		{"gelu_exact", mk(ir.OpGelu, 1, nil), []*ir.Tensor{ft(sh(2), 1, -1)}, []*ir.Tensor{ft(sh(2), 0.8413447, -0.15865526)}},
		{"gelu_tanh", mk(ir.OpGelu, 1, ir.Attrs{"approximate": as("tanh")}), []*ir.Tensor{ft(sh(1), 1)}, []*ir.Tensor{ft(sh(1), 0.8411920)}},
		{"mish", mk(ir.OpMish, 1, nil), []*ir.Tensor{ft(sh(2), 1, -1)}, []*ir.Tensor{ft(sh(2), 0.86509836, -0.30340144)}},
		{"softplus_big", mk(ir.OpSoftplus, 1, nil), []*ir.Tensor{ft(sh(3), 100, 0, -100)}, []*ir.Tensor{ft(sh(3), 100, float32(math.Ln2), 3.720076e-44)}},
		{"selu", mk(ir.OpSelu, 1, ir.Attrs{"alpha": af(2), "gamma": af(3)}), []*ir.Tensor{ft(sh(2), -1, 1)}, []*ir.Tensor{ft(sh(2), 3*2*float32(math.Exp(-1)-1), 3)}},
		{"elu", mk(ir.OpElu, 1, nil), []*ir.Tensor{ft(sh(2), -1, 1)}, []*ir.Tensor{ft(sh(2), float32(math.Exp(-1)-1), 1)}},
		{"neg_int", mk(ir.OpNeg, 1, nil), []*ir.Tensor{it(ir.Int8, sh(2), -128, 5)}, []*ir.Tensor{it(ir.Int8, sh(2), -128, -5)}},
		{"clip", mk(ir.OpClip, 1, nil), []*ir.Tensor{ft(sh(3), -2, 0, 2), ft(sh(), -1), ft(sh(), 1)}, []*ir.Tensor{ft(sh(3), -1, 0, 1)}},
		{"clip_max_only", mk(ir.OpClip, 1, nil), []*ir.Tensor{ft(sh(2), -inf, 5), nil, ft(sh(), 1)}, []*ir.Tensor{ft(sh(2), -inf, 1)}},
		{"clip_int8_default_min", mk(ir.OpClip, 1, nil), []*ir.Tensor{it(ir.Int8, sh(2), -128, 100), nil, it(ir.Int8, sh(), 50)}, []*ir.Tensor{it(ir.Int8, sh(2), -128, 50)}},
		// Softmax along an inner axis, stable for large inputs.
		{"softmax_axis0", mk(ir.OpSoftmax, 1, ir.Attrs{"axis": ai(0)}), []*ir.Tensor{ft(sh(2, 2), 1000, 0, 1000, 1)}, []*ir.Tensor{ft(sh(2, 2), 0.5, 0.26894142, 0.5, 0.7310586)}},
		{"logsoftmax", mk(ir.OpLogSoftmax, 1, nil), []*ir.Tensor{ft(sh(1, 2), 0, 0)}, []*ir.Tensor{ft(sh(1, 2), -float32(math.Ln2), -float32(math.Ln2))}},
		// Reductions.
		{"reducesum_axis1_keep", mk(ir.OpReduceSum, 1, nil), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6), it(ir.Int64, sh(1), 1)}, []*ir.Tensor{ft(sh(2, 1), 6, 15)}},
		{"reducemean_neg_axis", mk(ir.OpReduceMean, 1, ir.Attrs{"keepdims": ai(0)}), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6), it(ir.Int64, sh(1), -2)}, []*ir.Tensor{ft(sh(3), 2.5, 3.5, 4.5)}},
		{"reducemax_all", mk(ir.OpReduceMax, 1, ir.Attrs{"keepdims": ai(0)}), []*ir.Tensor{ft(sh(2, 2), 1, 7, 3, 4)}, []*ir.Tensor{ft(sh(), 7)}},
		{"reducemin_noop", mk(ir.OpReduceMin, 1, ir.Attrs{"noop_with_empty_axes": ai(1)}), []*ir.Tensor{ft(sh(2), 1, 7)}, []*ir.Tensor{ft(sh(2), 1, 7)}},
		{"reducesum_empty", mk(ir.OpReduceSum, 1, nil), []*ir.Tensor{ft(sh(2, 0)), it(ir.Int64, sh(1), 1)}, []*ir.Tensor{ft(sh(2, 1), 0, 0)}},
		{"reducesum_uint8_wrap", mk(ir.OpReduceSum, 1, ir.Attrs{"keepdims": ai(0)}), []*ir.Tensor{it(ir.Uint8, sh(2), 200, 100)}, []*ir.Tensor{it(ir.Uint8, sh(), 44)}},
		// Shape manipulation.
		{"reshape", mk(ir.OpReshape, 1, nil), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6), it(ir.Int64, sh(2), 0, -1)}, []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6)}},
		{"flatten0", mk(ir.OpFlatten, 1, ir.Attrs{"axis": ai(0)}), []*ir.Tensor{ft(sh(2, 1), 1, 2)}, []*ir.Tensor{ft(sh(1, 2), 1, 2)}},
		{"squeeze_all", mk(ir.OpSqueeze, 1, nil), []*ir.Tensor{ft(sh(1, 2, 1), 1, 2)}, []*ir.Tensor{ft(sh(2), 1, 2)}},
		{"unsqueeze_neg", mk(ir.OpUnsqueeze, 1, nil), []*ir.Tensor{ft(sh(2), 1, 2), it(ir.Int64, sh(2), 0, -1)}, []*ir.Tensor{ft(sh(1, 2, 1), 1, 2)}},
		{"transpose_default", mk(ir.OpTranspose, 1, nil), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6)}, []*ir.Tensor{ft(sh(3, 2), 1, 4, 2, 5, 3, 6)}},
		{"transpose_perm", mk(ir.OpTranspose, 1, ir.Attrs{"perm": ais(1, 2, 0)}), []*ir.Tensor{ft(sh(2, 1, 2), 1, 2, 3, 4)}, []*ir.Tensor{ft(sh(1, 2, 2), 1, 3, 2, 4)}},
		{"concat_neg_axis", mk(ir.OpConcat, 1, ir.Attrs{"axis": ai(-1)}), []*ir.Tensor{ft(sh(2, 1), 1, 2), ft(sh(2, 2), 3, 4, 5, 6)}, []*ir.Tensor{ft(sh(2, 3), 1, 3, 4, 2, 5, 6)}},
		{"concat_int", mk(ir.OpConcat, 1, ir.Attrs{"axis": ai(0)}), []*ir.Tensor{it(ir.Int64, sh(1), 1), it(ir.Int64, sh(0)), it(ir.Int64, sh(2), 2, 3)}, []*ir.Tensor{it(ir.Int64, sh(3), 1, 2, 3)}},
		{"split_sizes", mk(ir.OpSplit, 2, ir.Attrs{"axis": ai(1)}), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6), it(ir.Int64, sh(2), 1, 2)}, []*ir.Tensor{ft(sh(2, 1), 1, 4), ft(sh(2, 2), 2, 3, 5, 6)}},
		{"split_uneven", mk(ir.OpSplit, 2, nil), []*ir.Tensor{ft(sh(3), 1, 2, 3)}, []*ir.Tensor{ft(sh(2), 1, 2), ft(sh(1), 3)}},
		{"slice_neg_step", mk(ir.OpSlice, 1, nil), []*ir.Tensor{ft(sh(5), 0, 1, 2, 3, 4), it(ir.Int64, sh(1), -1), it(ir.Int64, sh(1), -1000), nil, it(ir.Int64, sh(1), -2)}, []*ir.Tensor{ft(sh(3), 4, 2, 0)}},
		{"slice_axes", mk(ir.OpSlice, 1, nil), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6), it(ir.Int64, sh(1), 1), it(ir.Int64, sh(1), 100), it(ir.Int64, sh(1), -1)}, []*ir.Tensor{ft(sh(2, 2), 2, 3, 5, 6)}},
		{"gather_neg", mk(ir.OpGather, 1, ir.Attrs{"axis": ai(1)}), []*ir.Tensor{ft(sh(2, 3), 1, 2, 3, 4, 5, 6), it(ir.Int64, sh(2), -1, 0)}, []*ir.Tensor{ft(sh(2, 2), 3, 1, 6, 4)}},
		{"gather_scalar_idx", mk(ir.OpGather, 1, nil), []*ir.Tensor{it(ir.Int64, sh(3), 7, 8, 9), it(ir.Int64, sh(), 1)}, []*ir.Tensor{it(ir.Int64, sh(), 8)}},
		{"tile", mk(ir.OpTile, 1, nil), []*ir.Tensor{ft(sh(1, 2), 1, 2), it(ir.Int64, sh(2), 2, 2)}, []*ir.Tensor{ft(sh(2, 4), 1, 2, 1, 2, 1, 2, 1, 2)}},
		{"expand", mk(ir.OpExpand, 1, nil), []*ir.Tensor{ft(sh(2, 1), 1, 2), it(ir.Int64, sh(3), 2, 1, 2)}, []*ir.Tensor{ft(sh(2, 2, 2), 1, 1, 2, 2, 1, 1, 2, 2)}},
		{"shape_slice", mk(ir.OpShape, 1, ir.Attrs{"start": ai(1), "end": ai(-1)}), []*ir.Tensor{ft(sh(2, 3, 4, 5), make([]float32, 120)...)}, []*ir.Tensor{it(ir.Int64, sh(2), 3, 4)}},
		{"constantofshape", mk(ir.OpConstantOfShape, 1, ir.Attrs{"value": at(it(ir.Int32, sh(1), 7))}), []*ir.Tensor{it(ir.Int64, sh(2), 1, 2)}, []*ir.Tensor{it(ir.Int32, sh(1, 2), 7, 7)}},
		{"constantofshape_default", mk(ir.OpConstantOfShape, 1, nil), []*ir.Tensor{it(ir.Int64, sh(1), 2)}, []*ir.Tensor{ft(sh(2), 0, 0)}},
		{"pad_constant", mk(ir.OpPad, 1, nil), []*ir.Tensor{ft(sh(1, 2), 1, 2), it(ir.Int64, sh(4), 0, 1, 1, 0), ft(sh(), 9)}, []*ir.Tensor{ft(sh(2, 3), 9, 1, 2, 9, 9, 9)}},
		{"pad_reflect", mk(ir.OpPad, 1, ir.Attrs{"mode": as("reflect")}), []*ir.Tensor{ft(sh(3), 1, 2, 3), it(ir.Int64, sh(2), 2, 2)}, []*ir.Tensor{ft(sh(7), 3, 2, 1, 2, 3, 2, 1)}},
		{"pad_edge", mk(ir.OpPad, 1, ir.Attrs{"mode": as("edge")}), []*ir.Tensor{ft(sh(2), 1, 2), it(ir.Int64, sh(2), 2, 1)}, []*ir.Tensor{ft(sh(5), 1, 1, 1, 2, 2)}},
		{"pad_wrap", mk(ir.OpPad, 1, ir.Attrs{"mode": as("wrap")}), []*ir.Tensor{ft(sh(3), 1, 2, 3), it(ir.Int64, sh(2), 2, 4)}, []*ir.Tensor{ft(sh(9), 2, 3, 1, 2, 3, 1, 2, 3, 1)}},
		{"pad_negative_crop", mk(ir.OpPad, 1, nil), []*ir.Tensor{ft(sh(4), 1, 2, 3, 4), it(ir.Int64, sh(2), -1, 1)}, []*ir.Tensor{ft(sh(4), 2, 3, 4, 0)}},
		{"pad_axes", mk(ir.OpPad, 1, nil), []*ir.Tensor{ft(sh(1, 2), 1, 2), it(ir.Int64, sh(2), 1, 0), nil, it(ir.Int64, sh(1), -1)}, []*ir.Tensor{ft(sh(1, 3), 0, 1, 2)}},
		{"depthtospace_dcr", mk(ir.OpDepthToSpace, 1, ir.Attrs{"blocksize": ai(2)}), []*ir.Tensor{ft(sh(1, 4, 1, 1), 1, 2, 3, 4)}, []*ir.Tensor{ft(sh(1, 1, 2, 2), 1, 2, 3, 4)}},
		{"depthtospace_dcr2", mk(ir.OpDepthToSpace, 1, ir.Attrs{"blocksize": ai(2)}), []*ir.Tensor{ft(sh(1, 8, 1, 1), 1, 2, 3, 4, 5, 6, 7, 8)}, []*ir.Tensor{ft(sh(1, 2, 2, 2), 1, 3, 5, 7, 2, 4, 6, 8)}},
		{"depthtospace_crd", mk(ir.OpDepthToSpace, 1, ir.Attrs{"blocksize": ai(2), "mode": as("CRD")}), []*ir.Tensor{ft(sh(1, 8, 1, 1), 1, 2, 3, 4, 5, 6, 7, 8)}, []*ir.Tensor{ft(sh(1, 2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8)}},
		{"spacetodepth", mk(ir.OpSpaceToDepth, 1, ir.Attrs{"blocksize": ai(2)}), []*ir.Tensor{ft(sh(1, 2, 2, 2), 1, 3, 5, 7, 2, 4, 6, 8)}, []*ir.Tensor{ft(sh(1, 8, 1, 1), 1, 2, 3, 4, 5, 6, 7, 8)}},
		{"cast_f2i8", mk(ir.OpCast, 1, ir.Attrs{"to": ai(int64(ir.Int8))}), []*ir.Tensor{ft(sh(3), 1.9, -1.9, 300)}, []*ir.Tensor{it(ir.Int8, sh(3), 1, -1, 44)}},
		{"cast_i2f", mk(ir.OpCast, 1, ir.Attrs{"to": ai(int64(ir.Float32))}), []*ir.Tensor{it(ir.Int64, sh(2), -3, 5)}, []*ir.Tensor{ft(sh(2), -3, 5)}},
		{"cast_f2bool", mk(ir.OpCast, 1, ir.Attrs{"to": ai(int64(ir.Bool))}), []*ir.Tensor{ft(sh(2), 0, 0.1)}, []*ir.Tensor{it(ir.Bool, sh(2), 0, 1)}},
		{"cast_f16", mk(ir.OpCast, 1, ir.Attrs{"to": ai(int64(ir.Float16))}), []*ir.Tensor{ft(sh(3), 1.0001, 70000, 65519)}, []*ir.Tensor{{DType: ir.Float16, Shape: sh(3), F: []float32{1, inf, 65504}}}},
		{"dropout_mask", mk(ir.OpDropout, 2, nil), []*ir.Tensor{ft(sh(2), 1, 2)}, []*ir.Tensor{ft(sh(2), 1, 2), it(ir.Bool, sh(2), 1, 1)}},
		{"identity_int", mk(ir.OpIdentity, 1, nil), []*ir.Tensor{it(ir.Int32, sh(2), 1, 2)}, []*ir.Tensor{it(ir.Int32, sh(2), 1, 2)}},
		// Matrix products.
		{"gemm_all_attrs", mk(ir.OpGemm, 1, ir.Attrs{"alpha": af(2), "beta": af(3), "transA": ai(1), "transB": ai(1)}),
			[]*ir.Tensor{ft(sh(2, 1), 1, 2), ft(sh(2, 2), 1, 2, 3, 4), ft(sh(2), 1, 10)},
			[]*ir.Tensor{ft(sh(1, 2), 2*(1+4)+3, 2*(3+8)+30)}},
		{"gemm_col_bias", mk(ir.OpGemm, 1, nil), []*ir.Tensor{ft(sh(2, 2), 1, 2, 3, 4), ft(sh(2, 1), 1, 1), ft(sh(2, 1), 10, 20)}, []*ir.Tensor{ft(sh(2, 1), 13, 27)}},
		{"matmul_1d_2d", mk(ir.OpMatMul, 1, nil), []*ir.Tensor{ft(sh(2), 1, 2), ft(sh(2, 3), 1, 2, 3, 4, 5, 6)}, []*ir.Tensor{ft(sh(3), 9, 12, 15)}},
		{"matmul_2d_1d", mk(ir.OpMatMul, 1, nil), []*ir.Tensor{ft(sh(2, 2), 1, 2, 3, 4), ft(sh(2), 1, 1)}, []*ir.Tensor{ft(sh(2), 3, 7)}},
		{"matmul_bcast", mk(ir.OpMatMul, 1, nil), []*ir.Tensor{ft(sh(2, 1, 2), 1, 0, 0, 1), ft(sh(2, 2), 1, 2, 3, 4)}, []*ir.Tensor{ft(sh(2, 1, 2), 1, 2, 3, 4)}},
		// Normalization.
		{"batchnorm", mk(ir.OpBatchNorm, 1, ir.Attrs{"epsilon": af(0)}), []*ir.Tensor{ft(sh(1, 2, 1, 2), 1, 2, 3, 4), ft(sh(2), 1, 2), ft(sh(2), 0, 1), ft(sh(2), 1, 3), ft(sh(2), 4, 1)},
			[]*ir.Tensor{ft(sh(1, 2, 1, 2), 0, 0.5, 1, 3)}},
		{"instancenorm", mk(ir.OpInstanceNorm, 1, ir.Attrs{"epsilon": af(0)}), []*ir.Tensor{ft(sh(1, 1, 2), 1, 3), ft(sh(1), 2), ft(sh(1), 1)}, []*ir.Tensor{ft(sh(1, 1, 2), -1, 3)}},
		{"lrn_size3", mk(ir.OpLRN, 1, ir.Attrs{"size": ai(3), "alpha": af(3), "beta": af(1), "bias": af(1)}), []*ir.Tensor{ft(sh(1, 3, 1), 1, 2, 3)},
			[]*ir.Tensor{ft(sh(1, 3, 1), 1.0/6, 2.0/15, 3.0/14)}},
		// Pooling.
		{"maxpool_ceil_idx", mk(ir.OpMaxPool, 2, ir.Attrs{"kernel_shape": ais(2, 2), "strides": ais(2, 2), "ceil_mode": ai(1)}),
			[]*ir.Tensor{ft(sh(1, 1, 3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9)},
			[]*ir.Tensor{ft(sh(1, 1, 2, 2), 5, 6, 8, 9), it(ir.Int64, sh(1, 1, 2, 2), 4, 5, 7, 8)}},
		{"maxpool_dilated_pad", mk(ir.OpMaxPool, 1, ir.Attrs{"kernel_shape": ais(2), "dilations": ais(2), "pads": ais(1, 1)}),
			[]*ir.Tensor{ft(sh(1, 1, 4), 4, 1, 2, 3)}, []*ir.Tensor{ft(sh(1, 1, 4), 1, 4, 3, 2)}},
		{"avgpool_exclude_pad", mk(ir.OpAveragePool, 1, ir.Attrs{"kernel_shape": ais(3), "pads": ais(1, 1)}),
			[]*ir.Tensor{ft(sh(1, 1, 3), 1, 2, 3)}, []*ir.Tensor{ft(sh(1, 1, 3), 1.5, 2, 2.5)}},
		{"avgpool_include_pad", mk(ir.OpAveragePool, 1, ir.Attrs{"kernel_shape": ais(3), "pads": ais(1, 1), "count_include_pad": ai(1)}),
			[]*ir.Tensor{ft(sh(1, 1, 3), 1, 2, 3)}, []*ir.Tensor{ft(sh(1, 1, 3), 1, 2, 5.0/3)}},
		// Ceil mode: the last window hangs past the input (and the pad).
		{"avgpool_ceil_include_pad", mk(ir.OpAveragePool, 1, ir.Attrs{"kernel_shape": ais(2), "strides": ais(2), "ceil_mode": ai(1), "count_include_pad": ai(1)}),
			[]*ir.Tensor{ft(sh(1, 1, 3), 1, 2, 3)}, []*ir.Tensor{ft(sh(1, 1, 2), 1.5, 3)}},
		{"globalavg", mk(ir.OpGlobalAvgPool, 1, nil), []*ir.Tensor{ft(sh(1, 2, 2), 1, 2, 3, 5)}, []*ir.Tensor{ft(sh(1, 2, 1), 1.5, 4)}},
		{"globalmax", mk(ir.OpGlobalMaxPool, 1, nil), []*ir.Tensor{ft(sh(1, 2, 2), 1, 2, 3, 5)}, []*ir.Tensor{ft(sh(1, 2, 1), 2, 5)}},
		// Convolution: asymmetric pads, groups, auto_pad.
		{"conv_asym_pad", mk(ir.OpConv, 1, ir.Attrs{"pads": ais(0, 1, 0, 0)}),
			[]*ir.Tensor{ft(sh(1, 1, 1, 3), 1, 2, 3), ft(sh(1, 1, 1, 2), 1, 10), ft(sh(1), 100)},
			[]*ir.Tensor{ft(sh(1, 1, 1, 3), 110, 121, 132)}},
		{"conv_same_upper", mk(ir.OpConv, 1, ir.Attrs{"auto_pad": as("SAME_UPPER")}),
			[]*ir.Tensor{ft(sh(1, 1, 3), 1, 2, 3), ft(sh(1, 1, 2), 1, 10)},
			[]*ir.Tensor{ft(sh(1, 1, 3), 21, 32, 3)}},
		{"conv_groups", mk(ir.OpConv, 1, ir.Attrs{"group": ai(2)}),
			[]*ir.Tensor{ft(sh(1, 4, 1), 1, 2, 3, 4), ft(sh(2, 2, 1), 1, 1, 1, -1)},
			[]*ir.Tensor{ft(sh(1, 2, 1), 3, -1)}},
		// Quantization.
		{"quantize_even", mk(ir.OpQuantizeLinear, 1, nil), []*ir.Tensor{ft(sh(5), 0.5, 1.5, 2.5, -1000, 1000), ft(sh(), 1), it(ir.Uint8, sh(), 10)},
			[]*ir.Tensor{it(ir.Uint8, sh(5), 10, 12, 12, 0, 255)}},
		{"quantize_axis", mk(ir.OpQuantizeLinear, 1, ir.Attrs{"axis": ai(0)}), []*ir.Tensor{ft(sh(2, 1), 4, 4), ft(sh(2), 1, 2), it(ir.Int8, sh(2), 0, -1)},
			[]*ir.Tensor{it(ir.Int8, sh(2, 1), 4, 1)}},
		{"dequantize_axis", mk(ir.OpDequantizeLinear, 1, nil), []*ir.Tensor{it(ir.Uint8, sh(1, 2), 10, 10), ft(sh(2), 0.5, 2), it(ir.Uint8, sh(2), 0, 5)},
			[]*ir.Tensor{ft(sh(1, 2), 5, 10)}},
		{"matmulinteger", mk(ir.OpMatMulInteger, 1, nil), []*ir.Tensor{it(ir.Uint8, sh(1, 2), 11, 12), it(ir.Uint8, sh(2, 1), 3, 4), it(ir.Uint8, sh(), 10), it(ir.Uint8, sh(), 1)},
			[]*ir.Tensor{it(ir.Int32, sh(1, 1), 1*2+2*3)}},
		{"convinteger_pad", mk(ir.OpConvInteger, 1, ir.Attrs{"pads": ais(1, 0)}), []*ir.Tensor{it(ir.Uint8, sh(1, 1, 2), 3, 4), it(ir.Uint8, sh(1, 1, 2), 1, 2), it(ir.Uint8, sh(), 1)},
			[]*ir.Tensor{it(ir.Int32, sh(1, 1, 2), 4, 2+6)}},
		{"qlinearmatmul", mk(ir.OpQLinearMatMul, 1, nil), []*ir.Tensor{it(ir.Uint8, sh(1, 1), 12), ft(sh(), 0.5), it(ir.Uint8, sh(), 2), it(ir.Uint8, sh(1, 1), 5), ft(sh(), 1), it(ir.Uint8, sh(), 0), ft(sh(), 2), it(ir.Uint8, sh(), 100)},
			[]*ir.Tensor{it(ir.Uint8, sh(1, 1), 112)}},
		{"qlinearconv", mk(ir.OpQLinearConv, 1, nil), []*ir.Tensor{it(ir.Uint8, sh(1, 1, 2), 12, 14), ft(sh(), 0.5), it(ir.Uint8, sh(), 2), it(ir.Int8, sh(2, 1, 1), 1, -2), ft(sh(2), 1, 0.25), it(ir.Int8, sh(), 0), ft(sh(), 1), it(ir.Uint8, sh(), 128), it(ir.Int32, sh(2), 2, 0)},
			[]*ir.Tensor{it(ir.Uint8, sh(1, 2, 2), 134, 135, 126, 125)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := eval(t, tc.n, tc.in...)
			if len(out) != len(tc.want) {
				t.Fatalf("%d outputs, want %d", len(out), len(tc.want))
			}
			for i := range tc.want {
				same(t, out[i], tc.want[i])
			}
		})
	}
}

// Bad shapes are errors naming the node, never panics.
func TestKernelErrors(t *testing.T) {
	cases := []kcase{
		{"add_incompatible", mk(ir.OpAdd, 1, nil), []*ir.Tensor{ft(sh(2), 1, 2), ft(sh(3), 1, 2, 3)}, nil},
		{"div_by_zero_int", mk(ir.OpDiv, 1, nil), []*ir.Tensor{it(ir.Int32, sh(1), 1), it(ir.Int32, sh(1), 0)}, nil},
		{"gather_oob", mk(ir.OpGather, 1, nil), []*ir.Tensor{ft(sh(2), 1, 2), it(ir.Int64, sh(1), 2)}, nil},
		{"conv_kernel_too_big", mk(ir.OpConv, 1, nil), []*ir.Tensor{ft(sh(1, 1, 2), 1, 2), ft(sh(1, 1, 3), 1, 2, 3)}, nil},
		{"reshape_bad", mk(ir.OpReshape, 1, nil), []*ir.Tensor{ft(sh(3), 1, 2, 3), it(ir.Int64, sh(1), 2)}, nil},
		{"missing_input", mk(ir.OpAdd, 1, nil), []*ir.Tensor{ft(sh(1), 1), nil}, nil},
		{"bad_storage", mk(ir.OpRelu, 1, nil), []*ir.Tensor{ft(sh(3), 1, 2)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			for _, x := range tc.in {
				v := &ir.Value{Name: "x"}
				if x != nil {
					v.Type = x.Type()
				}
				n.Inputs = append(n.Inputs, v)
			}
			_, err := EvalNode(n, tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if want := `node "n"`; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
				t.Fatalf("error %q does not name the node", err)
			}
		})
	}
}
