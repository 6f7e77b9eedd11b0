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

DATA nib0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nib0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibpop<>+0(SB)/8, $0x0302020102010100
DATA nibpop<>+8(SB)/8, $0x0403030203020201
GLOBL nib0f<>(SB), RODATA|NOPTR, $16
GLOBL nibpop<>(SB), RODATA|NOPTR, $16

// func adcCorr256(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32)
//
// adcCorr512 on AVX2: four rows per vector (one per 64-bit lane); the
// two words' counts by nibble lookup (VPSHUFB), added as bytes and summed
// per lane by VPSADBW, the excess by VPSUBUSW (counts ≤ 128 in each
// lane's low word), the terms by VPMULDQ.
TEXT ·adcCorr256(SB), NOSPLIT, $0-64
	MOVQ planes+0(FP), SI
	MOVQ coefs+8(FP), DI
	MOVQ np+16(FP), CX
	MOVQ w+24(FP), R8
	MOVQ wbits+32(FP), R9
	MOVQ rows8+40(FP), R10
	MOVQ out+56(FP), R11
	VPBROADCASTQ sat+48(FP), Y15
	VBROADCASTI128 nib0f<>(SB), Y14
	VBROADCASTI128 nibpop<>(SB), Y13
	VPXOR Y12, Y12, Y12
	MOVQ R10, AX
	SHLQ $4, AX            // bytes from one column's lo words to the next column's
	XORQ BX, BX

a2group:
	VPXOR Y0, Y0, Y0
	MOVQ SI, R12
	MOVQ DI, R13
	MOVQ CX, R14

a2plane:
	VPBROADCASTQ (R12), Y1
	VPBROADCASTQ 8(R12), Y2
	LEAQ (R8)(BX*8), R15
	MOVQ R9, DX

a2col:
	VPAND (R15), Y1, Y3
	VPAND (R15)(R10*8), Y2, Y4
	VPAND Y14, Y3, Y5
	VPSRLW $4, Y3, Y3
	VPAND Y14, Y3, Y3
	VPSHUFB Y5, Y13, Y5
	VPSHUFB Y3, Y13, Y3
	VPADDB Y5, Y3, Y3
	VPAND Y14, Y4, Y6
	VPSRLW $4, Y4, Y4
	VPAND Y14, Y4, Y4
	VPSHUFB Y6, Y13, Y6
	VPSHUFB Y4, Y13, Y4
	VPADDB Y6, Y4, Y4
	VPADDB Y4, Y3, Y3
	VPSADBW Y12, Y3, Y3    // per lane: the count
	VPSUBUSW Y15, Y3, Y3   // max(count − sat, 0)
	VPBROADCASTQ (R13), Y7
	VPMULDQ Y7, Y3, Y3
	VPADDQ Y3, Y0, Y0
	ADDQ $8, R13
	ADDQ AX, R15
	DECQ DX
	JNZ a2col

	ADDQ $16, R12
	DECQ R14
	JNZ a2plane

	VPSHUFD $0x08, Y0, Y0  // each lane's low dword to dwords 0, 1 of its half
	VPERMQ $0x08, Y0, Y0   // and the two halves' together
	VPADDD (R11)(BX*4), X0, X0
	VMOVDQU X0, (R11)(BX*4)
	ADDQ $4, BX
	CMPQ BX, R10
	JLT a2group
	VZEROUPPER
	RET

// func tbTiles256(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32)
//
// tbTiles512 on AVX2: four rows per vector, counts by nibble lookup and
// VPSADBW, clamped by VPMINUW (each lane's count in its low word: sat
// must be below 2^16).
TEXT ·tbTiles256(SB), NOSPLIT, $0-48
	MOVQ b+0(FP), SI
	MOVQ ntiles+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ rows8+24(FP), R10
	MOVQ out+40(FP), R11
	VPBROADCASTQ sat+32(FP), Y15
	VBROADCASTI128 nib0f<>(SB), Y14
	VBROADCASTI128 nibpop<>(SB), Y13
	VPXOR Y12, Y12, Y12
	MOVQ R10, AX
	SHLQ $5, AX            // bytes per tile: 4 words × rows8 × 8
	LEAQ (R10)(R10*2), R9  // 3·rows8
	XORQ BX, BX

t2group:
	VPXOR Y0, Y0, Y0
	MOVQ SI, R12
	LEAQ (R8)(BX*8), R15
	MOVQ CX, R14

t2tile:
	VPBROADCASTQ (R12), Y1
	VPBROADCASTQ 8(R12), Y2
	LEAQ (R15)(R10*8), DX
	// p⁺: words 0 and 1.
	VPAND (R15), Y1, Y3
	VPAND (DX), Y2, Y4
	VPAND Y14, Y3, Y5
	VPSRLW $4, Y3, Y3
	VPAND Y14, Y3, Y3
	VPSHUFB Y5, Y13, Y5
	VPSHUFB Y3, Y13, Y3
	VPADDB Y5, Y3, Y3
	VPAND Y14, Y4, Y6
	VPSRLW $4, Y4, Y4
	VPAND Y14, Y4, Y4
	VPSHUFB Y6, Y13, Y6
	VPSHUFB Y4, Y13, Y4
	VPADDB Y6, Y4, Y4
	VPADDB Y4, Y3, Y3
	VPSADBW Y12, Y3, Y3
	VPMINUW Y15, Y3, Y3
	VPADDQ Y3, Y0, Y0
	// p⁻: words 2 and 3.
	VPAND (DX)(R10*8), Y1, Y3
	VPAND (R15)(R9*8), Y2, Y4
	VPAND Y14, Y3, Y5
	VPSRLW $4, Y3, Y3
	VPAND Y14, Y3, Y3
	VPSHUFB Y5, Y13, Y5
	VPSHUFB Y3, Y13, Y3
	VPADDB Y5, Y3, Y3
	VPAND Y14, Y4, Y6
	VPSRLW $4, Y4, Y4
	VPAND Y14, Y4, Y4
	VPSHUFB Y6, Y13, Y6
	VPSHUFB Y4, Y13, Y4
	VPADDB Y6, Y4, Y4
	VPADDB Y4, Y3, Y3
	VPSADBW Y12, Y3, Y3
	VPMINUW Y15, Y3, Y3
	VPSUBQ Y3, Y0, Y0
	ADDQ $16, R12
	ADDQ AX, R15
	DECQ R14
	JNZ t2tile

	VPSHUFD $0x08, Y0, Y0
	VPERMQ $0x08, Y0, Y0
	VMOVDQU X0, (R11)(BX*4)
	ADDQ $4, BX
	CMPQ BX, R10
	JLT t2group
	VZEROUPPER
	RET
