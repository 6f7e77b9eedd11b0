#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv0() (eax uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	RET

// func dot4AVX2(x *uint8, w *int8, n, stride int, out *int32)
//
// out[r] = Σ_{k<n} x[k]·w[r·stride+k] for r = 0..3; x unsigned bytes,
// w signed bytes, n a positive multiple of 32. Pair sums are accumulated
// in 16-bit lanes, so |x·w| pair sums times n/32 must stay below 2^15
// (the caller bounds n).
TEXT ·dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	MOVQ out+32(FP), R9
	LEAQ (DI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	VPXOR Y0, Y0, Y0
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	XORQ AX, AX

loop:
	VMOVDQU (SI)(AX*1), Y1
	VPMADDUBSW (DI)(AX*1), Y1, Y2
	VPADDW Y2, Y0, Y0
	VPMADDUBSW (R10)(AX*1), Y1, Y2
	VPADDW Y2, Y3, Y3
	VPMADDUBSW (R11)(AX*1), Y1, Y2
	VPADDW Y2, Y4, Y4
	VPMADDUBSW (R12)(AX*1), Y1, Y2
	VPADDW Y2, Y5, Y5
	ADDQ $32, AX
	CMPQ AX, CX
	JLT loop

	MOVL $0x00010001, BX
	MOVL BX, X15
	VPBROADCASTD X15, Y15
	VPMADDWD Y15, Y0, Y0
	VPMADDWD Y15, Y3, Y3
	VPMADDWD Y15, Y4, Y4
	VPMADDWD Y15, Y5, Y5
	VPHADDD Y3, Y0, Y0
	VPHADDD Y5, Y4, Y4
	VPHADDD Y4, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VMOVDQU X0, (R9)
	VZEROUPPER
	RET

// func geBitsAVX2(x *uint8, n int, tauMinus1 int8, out *uint32)
//
// Bit k of out is set iff x[k] > tauMinus1 as signed bytes, i.e. x[k] ≥ tau
// for x[k] ≤ 127. n is a positive multiple of 32.
TEXT ·geBitsAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVBLSX tauMinus1+16(FP), AX
	MOVQ out+24(FP), DI
	MOVL AX, X2
	VPBROADCASTB X2, Y2
	XORQ BX, BX

geloop:
	VMOVDQU (SI)(BX*1), Y1
	VPCMPGTB Y2, Y1, Y1
	VPMOVMSKB Y1, AX
	MOVL AX, (DI)
	ADDQ $4, DI
	ADDQ $32, BX
	CMPQ BX, CX
	JLT geloop
	VZEROUPPER
	RET

// func planesAVX2(x *uint8, n int, flip uint8, nplanes int, out *uint32)
//
// out[i·(n/32) + c] holds, for the 32 bytes of chunk c, bit i of x ^ flip
// (i < nplanes ≤ 8). n is a positive multiple of 32.
TEXT ·planesAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVBLZX flip+16(FP), AX
	MOVQ nplanes+24(FP), R8
	MOVQ out+32(FP), DI
	MOVL AX, X3
	VPBROADCASTB X3, Y3
	MOVQ CX, R9
	SHRQ $3, R9            // plane stride in bytes: (n/32)·4
	XORQ BX, BX

plchunk:
	VMOVDQU (SI)(BX*1), Y1
	VPXOR Y3, Y1, Y1
	MOVQ DI, R10
	MOVQ $7, R11
	MOVQ R8, R12

plplane:
	MOVQ R11, X4
	VPSLLW X4, Y1, Y5
	VPMOVMSKB Y5, AX
	MOVL AX, (R10)
	ADDQ R9, R10
	DECQ R11
	DECQ R12
	JNZ plplane

	ADDQ $4, DI
	ADDQ $32, BX
	CMPQ BX, CX
	JLT plchunk
	VZEROUPPER
	RET

// func geBytesAVX2(x *uint8, n int, tauMinus1 int8, out *uint8)
//
// out[k] = 1 if x[k] > tauMinus1 as signed bytes (x[k] ≥ tau for x ≤ 127),
// else 0. n is a positive multiple of 32.
TEXT ·geBytesAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVBLSX tauMinus1+16(FP), AX
	MOVQ out+24(FP), DI
	MOVL AX, X2
	VPBROADCASTB X2, Y2
	MOVL $0x01010101, AX
	MOVL AX, X3
	VPBROADCASTD X3, Y3
	XORQ BX, BX

gbloop:
	VMOVDQU (SI)(BX*1), Y1
	VPCMPGTB Y2, Y1, Y1
	VPAND Y3, Y1, Y1
	VMOVDQU Y1, (DI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, CX
	JLT gbloop
	VZEROUPPER
	RET

// func dot8AVX2(x *uint8, w *int8, n, stride int, out *int32)
//
// dot4AVX2 for eight rows: out[r] = Σ_{k<n} x[k]·w[r·stride+k], r = 0..7.
TEXT ·dot8AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	MOVQ out+32(FP), R9
	LEAQ (DI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	LEAQ (R13)(R8*1), R14
	LEAQ (R14)(R8*1), R15
	LEAQ (R15)(R8*1), DX
	VPXOR Y0, Y0, Y0
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	XORQ AX, AX

loop8:
	VMOVDQU (SI)(AX*1), Y1
	VPMADDUBSW (DI)(AX*1), Y1, Y2
	VPADDW Y2, Y0, Y0
	VPMADDUBSW (R10)(AX*1), Y1, Y2
	VPADDW Y2, Y3, Y3
	VPMADDUBSW (R11)(AX*1), Y1, Y2
	VPADDW Y2, Y4, Y4
	VPMADDUBSW (R12)(AX*1), Y1, Y2
	VPADDW Y2, Y5, Y5
	VPMADDUBSW (R13)(AX*1), Y1, Y2
	VPADDW Y2, Y6, Y6
	VPMADDUBSW (R14)(AX*1), Y1, Y2
	VPADDW Y2, Y7, Y7
	VPMADDUBSW (R15)(AX*1), Y1, Y2
	VPADDW Y2, Y8, Y8
	VPMADDUBSW (DX)(AX*1), Y1, Y2
	VPADDW Y2, Y9, Y9
	ADDQ $32, AX
	CMPQ AX, CX
	JLT loop8

	MOVL $0x00010001, BX
	MOVL BX, X15
	VPBROADCASTD X15, Y15
	VPMADDWD Y15, Y0, Y0
	VPMADDWD Y15, Y3, Y3
	VPMADDWD Y15, Y4, Y4
	VPMADDWD Y15, Y5, Y5
	VPMADDWD Y15, Y6, Y6
	VPMADDWD Y15, Y7, Y7
	VPMADDWD Y15, Y8, Y8
	VPMADDWD Y15, Y9, Y9
	VPHADDD Y3, Y0, Y0
	VPHADDD Y5, Y4, Y4
	VPHADDD Y4, Y0, Y0
	VPHADDD Y7, Y6, Y6
	VPHADDD Y9, Y8, Y8
	VPHADDD Y8, Y6, Y6
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VEXTRACTI128 $1, Y6, X1
	VPADDD X1, X6, X6
	VMOVDQU X0, (R9)
	VMOVDQU X6, 16(R9)
	VZEROUPPER
	RET
