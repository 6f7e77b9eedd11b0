#include "textflag.h"

// AVX-512 kernels of the quantized executor (useAVX512; nhwcT512 also
// needs AVX512_VBMI). The ADC kernels work on two-word (64 < R ≤ 128) row
// tiles: eight rows per ZMM register, one row per 64-bit lane, so that one
// VPOPCNTQ counts a plane or b against eight rows' weight columns.

// func adcCorr512(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32)
//
// For every row r < rows8 (a multiple of 8):
//   out[r] += Σ_{p<np} Σ_{j<wbits} coefs[p·wbits+j] · max(cnt − sat, 0),
//   cnt = popcnt(planes[2p] & w[(2j)·rows8+r]) + popcnt(planes[2p+1] & w[(2j+1)·rows8+r]).
// coefs are int64 holding values that fit int32 (VPMULDQ uses the low half).
TEXT ·adcCorr512(SB), NOSPLIT, $0-64
	MOVQ planes+0(FP), SI
	MOVQ coefs+8(FP), DI
	MOVQ np+16(FP), CX
	MOVQ w+24(FP), R8
	MOVQ wbits+32(FP), R9
	MOVQ rows8+40(FP), R10
	MOVQ out+56(FP), R11
	VPBROADCASTQ sat+48(FP), Z31
	VPXORQ Z30, Z30, Z30
	MOVQ R10, AX
	SHLQ $4, AX            // bytes from one column's lo words to the next column's
	XORQ BX, BX

acgroup:
	VPXORQ Z0, Z0, Z0
	MOVQ SI, R12
	MOVQ DI, R13
	MOVQ CX, R14

acplane:
	VPBROADCASTQ (R12), Z1
	VPBROADCASTQ 8(R12), Z2
	LEAQ (R8)(BX*8), R15
	MOVQ R9, DX

accol:
	VPANDQ (R15), Z1, Z3
	VPANDQ (R15)(R10*8), Z2, Z4
	VPOPCNTQ Z3, Z3
	VPOPCNTQ Z4, Z4
	VPADDQ Z4, Z3, Z3
	VPSUBQ Z31, Z3, Z3
	VPMAXSQ Z30, Z3, Z3
	VPBROADCASTQ (R13), Z5
	VPMULDQ Z5, Z3, Z3
	VPADDQ Z3, Z0, Z0
	ADDQ $8, R13
	ADDQ AX, R15
	DECQ DX
	JNZ accol

	ADDQ $16, R12
	DECQ R14
	JNZ acplane

	VPMOVQD Z0, Y5
	VPADDD (R11)(BX*4), Y5, Y5
	VMOVDQU Y5, (R11)(BX*4)
	ADDQ $8, BX
	CMPQ BX, R10
	JLT acgroup
	VZEROUPPER
	RET

// func tbTiles512(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32)
//
// For every row r < rows8: out[r] = Σ_{t<ntiles} min(p⁺, sat) − min(p⁻, sat)
// with p± = popcnt(b[2t] & w[(4t+h)·rows8+r]) + popcnt(b[2t+1] & w[(4t+h+1)·rows8+r]),
// h = 0 for +, 2 for −.
TEXT ·tbTiles512(SB), NOSPLIT, $0-48
	MOVQ b+0(FP), SI
	MOVQ ntiles+8(FP), CX
	MOVQ w+16(FP), R8
	MOVQ rows8+24(FP), R10
	MOVQ out+40(FP), R11
	VPBROADCASTQ sat+32(FP), Z31
	MOVQ R10, AX
	SHLQ $5, AX            // bytes per tile: 4 words × rows8 × 8
	LEAQ (R10)(R10*2), R9  // 3·rows8
	XORQ BX, BX

tbgroup:
	VPXORQ Z0, Z0, Z0
	MOVQ SI, R12
	LEAQ (R8)(BX*8), R15
	MOVQ CX, R14

tbtile:
	VPBROADCASTQ (R12), Z1
	VPBROADCASTQ 8(R12), Z2
	VPANDQ (R15), Z1, Z3
	VPANDQ (R15)(R10*8), Z2, Z4
	LEAQ (R15)(R10*8), DX
	VPANDQ (DX)(R10*8), Z1, Z5
	VPANDQ (R15)(R9*8), Z2, Z6
	VPOPCNTQ Z3, Z3
	VPOPCNTQ Z4, Z4
	VPOPCNTQ Z5, Z5
	VPOPCNTQ Z6, Z6
	VPADDQ Z4, Z3, Z3
	VPADDQ Z6, Z5, Z5
	VPMINSQ Z31, Z3, Z3
	VPMINSQ Z31, Z5, Z5
	VPADDQ Z3, Z0, Z0
	VPSUBQ Z5, Z0, Z0
	ADDQ $16, R12
	ADDQ AX, R15
	DECQ R14
	JNZ tbtile

	VPMOVQD Z0, Y5
	VMOVDQU Y5, (R11)(BX*4)
	ADDQ $8, BX
	CMPQ BX, R10
	JLT tbgroup
	VZEROUPPER
	RET

// func tbPix512(x *uint8, xstride, npix int, tau uint8, tmask *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32, ostride int, tmp *uint64)
//
// tbTiles512 forming its binary inputs itself, for npix window vectors
// (x[p·xstride:], outputs out[p·ostride:]): b = [x ≥ tau] per byte
// (VPCMPUB), per 128-row tile two words masked by tmask, into tmp
// (2·ntiles words). x must be readable for 128·ntiles bytes per vector.
TEXT ·tbPix512(SB), NOSPLIT, $0-96
	VPBROADCASTB tau+24(FP), Z29
	VPBROADCASTQ sat+64(FP), Z31
	MOVQ x+0(FP), AX
	VMOVQ AX, X25
	MOVQ out+72(FP), AX
	VMOVQ AX, X26
	MOVQ npix+16(FP), AX
	VMOVQ AX, X27

tppix:
	VMOVQ X25, SI
	MOVQ tmask+32(FP), R8
	MOVQ ntiles+40(FP), CX
	MOVQ tmp+88(FP), DI
	MOVQ DI, R12

tpbits:
	VMOVDQU64 (SI), Z10
	VMOVDQU64 64(SI), Z11
	VPCMPUB $5, Z29, Z10, K1   // x ≥ tau (not less than)
	VPCMPUB $5, Z29, Z11, K2
	KMOVQ K1, AX
	KMOVQ K2, BX
	ANDQ (R8), AX
	ANDQ 8(R8), BX
	MOVQ AX, (R12)
	MOVQ BX, 8(R12)
	ADDQ $128, SI
	ADDQ $16, R8
	ADDQ $16, R12
	DECQ CX
	JNZ tpbits

	MOVQ DI, SI
	MOVQ ntiles+40(FP), CX
	MOVQ w+48(FP), R8
	MOVQ rows8+56(FP), R10
	VMOVQ X26, R11
	MOVQ R10, AX
	SHLQ $5, AX            // bytes per tile: 4 words × rows8 × 8
	LEAQ (R10)(R10*2), R9  // 3·rows8
	XORQ BX, BX

tpgroup:
	VPXORQ Z0, Z0, Z0
	MOVQ SI, R12
	LEAQ (R8)(BX*8), R15
	MOVQ CX, R14

tptile:
	VPBROADCASTQ (R12), Z1
	VPBROADCASTQ 8(R12), Z2
	VPANDQ (R15), Z1, Z3
	VPANDQ (R15)(R10*8), Z2, Z4
	LEAQ (R15)(R10*8), DX
	VPANDQ (DX)(R10*8), Z1, Z5
	VPANDQ (R15)(R9*8), Z2, Z6
	VPOPCNTQ Z3, Z3
	VPOPCNTQ Z4, Z4
	VPOPCNTQ Z5, Z5
	VPOPCNTQ Z6, Z6
	VPADDQ Z4, Z3, Z3
	VPADDQ Z6, Z5, Z5
	VPMINSQ Z31, Z3, Z3
	VPMINSQ Z31, Z5, Z5
	VPADDQ Z3, Z0, Z0
	VPSUBQ Z5, Z0, Z0
	ADDQ $16, R12
	ADDQ AX, R15
	DECQ R14
	JNZ tptile

	VPMOVQD Z0, Y5
	VMOVDQU Y5, (R11)(BX*4)
	ADDQ $8, BX
	CMPQ BX, R10
	JLT tpgroup

	VMOVQ X25, AX
	ADDQ xstride+8(FP), AX
	VMOVQ AX, X25
	VMOVQ X26, AX
	MOVQ ostride+80(FP), BX
	LEAQ (AX)(BX*4), AX
	VMOVQ AX, X26
	VMOVQ X27, AX
	DECQ AX
	VMOVQ AX, X27
	JNZ tppix
	VZEROUPPER
	RET

// func adcPix512(x *uint8, xstride, npix int, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int64, out *int32, ostride int, tmp *uint64)
//
// The whole SRAM ADC correction of npix window vectors (x[p·xstride:],
// corrections added to out[p·ostride:]) for 128-row tiles: per tile t,
// the input bit planes of x[128t : 128t+128] ^ flip (masked by tmask[2t],
// tmask[2t+1]) are formed with VPTESTMB; a plane holding more than sat
// ones is "unsafe", and for the unsafe planes i
//   out[r] += Σ_j coefs[i·wbits+j] · max(cnt(i, j, r) − sat, 0)
// as in adcCorr512 (w: [tile][wbits][word][rows8]; the excess is formed
// with one VPSUBUSW, counts ≤ 128 being in each qword's low word). x must
// be readable for 128·ntiles bytes per vector; tmp holds 3·xbits words.
TEXT ·adcPix512(SB), NOSPLIT, $0-120
	VPBROADCASTB flip+24(FP), Z29
	VPBROADCASTQ sat+80(FP), Z31
	MOVL $0x01010101, AX
	VPBROADCASTD AX, Z28
	MOVQ x+0(FP), AX
	VMOVQ AX, X25
	MOVQ out+96(FP), AX
	VMOVQ AX, X26
	MOVQ npix+16(FP), AX
	VMOVQ AX, X27
	MOVQ rows8+72(FP), R10
	MOVQ tmp+112(FP), DI

appix:
	VMOVQ X25, SI
	MOVQ tmask+40(FP), R8
	MOVQ ntiles+48(FP), CX
	MOVQ w+56(FP), R9

aptile:
	MOVQ (R8), AX          // a tile of ≤ sat rows cannot saturate
	ORQ 8(R8), AX
	JZ aptilenext
	KMOVQ (R8), K3
	KMOVQ 8(R8), K4
	VMOVDQU64 (SI), Z10
	VMOVDQU64 64(SI), Z11
	VPXORQ Z29, Z10, Z10
	VPXORQ Z29, Z11, Z11
	VMOVDQA64 Z28, Z20     // plane i's bit in every byte
	XORQ R12, R12          // unsafe planes
	XORQ R11, R11          // plane i
	MOVQ coefs+88(FP), R14 // plane i's coefficients

applane:
	VPTESTMB Z20, Z10, K3, K1
	VPTESTMB Z20, Z11, K4, K2
	KMOVQ K1, AX
	KMOVQ K2, BX
	POPCNTQ AX, DX
	POPCNTQ BX, R13
	ADDQ R13, DX
	VPADDB Z20, Z20, Z20
	CMPQ DX, sat+80(FP)
	JLE apnext
	LEAQ (R12)(R12*2), R13
	MOVQ AX, (DI)(R13*8)
	MOVQ BX, 8(DI)(R13*8)
	MOVQ R14, 16(DI)(R13*8)
	INCQ R12

apnext:
	MOVQ wbits+64(FP), AX
	LEAQ (R14)(AX*8), R14
	INCQ R11
	CMPQ R11, xbits+32(FP)
	JLT applane

	TESTQ R12, R12
	JZ aptilenext
	MOVQ R12, X9
	MOVQ R10, AX
	SHLQ $4, AX            // bytes from one column's lo words to the next column's
	VMOVQ X26, R14
	XORQ BX, BX

apgroup:
	VPXORQ Z0, Z0, Z0
	MOVQ DI, R11
	MOVQ X9, R12

apgplane:
	VPBROADCASTQ (R11), Z1
	VPBROADCASTQ 8(R11), Z2
	MOVQ 16(R11), R13
	LEAQ (R9)(BX*8), R15
	MOVQ wbits+64(FP), DX

apcol:
	VPANDQ (R15), Z1, Z3
	VPANDQ (R15)(R10*8), Z2, Z4
	VPOPCNTQ Z3, Z3
	VPOPCNTQ Z4, Z4
	VPADDQ Z4, Z3, Z3
	VPSUBUSW Z31, Z3, Z3
	VPMULDQ.BCST (R13), Z3, Z3
	VPADDQ Z3, Z0, Z0
	ADDQ $8, R13
	ADDQ AX, R15
	DECQ DX
	JNZ apcol

	ADDQ $24, R11
	DECQ R12
	JNZ apgplane

	VPMOVQD Z0, Y5
	VPADDD (R14)(BX*4), Y5, Y5
	VMOVDQU Y5, (R14)(BX*4)
	ADDQ $8, BX
	CMPQ BX, R10
	JLT apgroup

aptilenext:
	ADDQ $128, SI
	ADDQ $16, R8
	MOVQ wbits+64(FP), AX
	IMULQ R10, AX
	SHLQ $4, AX
	ADDQ AX, R9
	DECQ CX
	JNZ aptile

	VMOVQ X25, AX
	ADDQ xstride+8(FP), AX
	VMOVQ AX, X25
	VMOVQ X26, AX
	MOVQ ostride+104(FP), BX
	LEAQ (AX)(BX*4), AX
	VMOVQ AX, X26
	VMOVQ X27, AX
	DECQ AX
	VMOVQ AX, X27
	JNZ appix
	VZEROUPPER
	RET

// gfbits: byte j = 1 << (j mod 8), the "x" operand of adcPixG512's
// VGF2P8AFFINEQB (with the data as the matrix, byte j of each qword
// becomes bit j of its eight bytes, the last in bit 0); gfperm: VPERMB
// indices gathering byte j of the eight qwords into qword j.
DATA gfbits<>+0(SB)/1, $1
DATA gfbits<>+1(SB)/1, $2
DATA gfbits<>+2(SB)/1, $4
DATA gfbits<>+3(SB)/1, $8
DATA gfbits<>+4(SB)/1, $16
DATA gfbits<>+5(SB)/1, $32
DATA gfbits<>+6(SB)/1, $64
DATA gfbits<>+7(SB)/1, $128
DATA gfbits<>+8(SB)/1, $1
DATA gfbits<>+9(SB)/1, $2
DATA gfbits<>+10(SB)/1, $4
DATA gfbits<>+11(SB)/1, $8
DATA gfbits<>+12(SB)/1, $16
DATA gfbits<>+13(SB)/1, $32
DATA gfbits<>+14(SB)/1, $64
DATA gfbits<>+15(SB)/1, $128
DATA gfbits<>+16(SB)/1, $1
DATA gfbits<>+17(SB)/1, $2
DATA gfbits<>+18(SB)/1, $4
DATA gfbits<>+19(SB)/1, $8
DATA gfbits<>+20(SB)/1, $16
DATA gfbits<>+21(SB)/1, $32
DATA gfbits<>+22(SB)/1, $64
DATA gfbits<>+23(SB)/1, $128
DATA gfbits<>+24(SB)/1, $1
DATA gfbits<>+25(SB)/1, $2
DATA gfbits<>+26(SB)/1, $4
DATA gfbits<>+27(SB)/1, $8
DATA gfbits<>+28(SB)/1, $16
DATA gfbits<>+29(SB)/1, $32
DATA gfbits<>+30(SB)/1, $64
DATA gfbits<>+31(SB)/1, $128
DATA gfbits<>+32(SB)/1, $1
DATA gfbits<>+33(SB)/1, $2
DATA gfbits<>+34(SB)/1, $4
DATA gfbits<>+35(SB)/1, $8
DATA gfbits<>+36(SB)/1, $16
DATA gfbits<>+37(SB)/1, $32
DATA gfbits<>+38(SB)/1, $64
DATA gfbits<>+39(SB)/1, $128
DATA gfbits<>+40(SB)/1, $1
DATA gfbits<>+41(SB)/1, $2
DATA gfbits<>+42(SB)/1, $4
DATA gfbits<>+43(SB)/1, $8
DATA gfbits<>+44(SB)/1, $16
DATA gfbits<>+45(SB)/1, $32
DATA gfbits<>+46(SB)/1, $64
DATA gfbits<>+47(SB)/1, $128
DATA gfbits<>+48(SB)/1, $1
DATA gfbits<>+49(SB)/1, $2
DATA gfbits<>+50(SB)/1, $4
DATA gfbits<>+51(SB)/1, $8
DATA gfbits<>+52(SB)/1, $16
DATA gfbits<>+53(SB)/1, $32
DATA gfbits<>+54(SB)/1, $64
DATA gfbits<>+55(SB)/1, $128
DATA gfbits<>+56(SB)/1, $1
DATA gfbits<>+57(SB)/1, $2
DATA gfbits<>+58(SB)/1, $4
DATA gfbits<>+59(SB)/1, $8
DATA gfbits<>+60(SB)/1, $16
DATA gfbits<>+61(SB)/1, $32
DATA gfbits<>+62(SB)/1, $64
DATA gfbits<>+63(SB)/1, $128
GLOBL gfbits<>(SB), RODATA|NOPTR, $64
DATA gfperm<>+0(SB)/1, $0
DATA gfperm<>+1(SB)/1, $8
DATA gfperm<>+2(SB)/1, $16
DATA gfperm<>+3(SB)/1, $24
DATA gfperm<>+4(SB)/1, $32
DATA gfperm<>+5(SB)/1, $40
DATA gfperm<>+6(SB)/1, $48
DATA gfperm<>+7(SB)/1, $56
DATA gfperm<>+8(SB)/1, $1
DATA gfperm<>+9(SB)/1, $9
DATA gfperm<>+10(SB)/1, $17
DATA gfperm<>+11(SB)/1, $25
DATA gfperm<>+12(SB)/1, $33
DATA gfperm<>+13(SB)/1, $41
DATA gfperm<>+14(SB)/1, $49
DATA gfperm<>+15(SB)/1, $57
DATA gfperm<>+16(SB)/1, $2
DATA gfperm<>+17(SB)/1, $10
DATA gfperm<>+18(SB)/1, $18
DATA gfperm<>+19(SB)/1, $26
DATA gfperm<>+20(SB)/1, $34
DATA gfperm<>+21(SB)/1, $42
DATA gfperm<>+22(SB)/1, $50
DATA gfperm<>+23(SB)/1, $58
DATA gfperm<>+24(SB)/1, $3
DATA gfperm<>+25(SB)/1, $11
DATA gfperm<>+26(SB)/1, $19
DATA gfperm<>+27(SB)/1, $27
DATA gfperm<>+28(SB)/1, $35
DATA gfperm<>+29(SB)/1, $43
DATA gfperm<>+30(SB)/1, $51
DATA gfperm<>+31(SB)/1, $59
DATA gfperm<>+32(SB)/1, $4
DATA gfperm<>+33(SB)/1, $12
DATA gfperm<>+34(SB)/1, $20
DATA gfperm<>+35(SB)/1, $28
DATA gfperm<>+36(SB)/1, $36
DATA gfperm<>+37(SB)/1, $44
DATA gfperm<>+38(SB)/1, $52
DATA gfperm<>+39(SB)/1, $60
DATA gfperm<>+40(SB)/1, $5
DATA gfperm<>+41(SB)/1, $13
DATA gfperm<>+42(SB)/1, $21
DATA gfperm<>+43(SB)/1, $29
DATA gfperm<>+44(SB)/1, $37
DATA gfperm<>+45(SB)/1, $45
DATA gfperm<>+46(SB)/1, $53
DATA gfperm<>+47(SB)/1, $61
DATA gfperm<>+48(SB)/1, $6
DATA gfperm<>+49(SB)/1, $14
DATA gfperm<>+50(SB)/1, $22
DATA gfperm<>+51(SB)/1, $30
DATA gfperm<>+52(SB)/1, $38
DATA gfperm<>+53(SB)/1, $46
DATA gfperm<>+54(SB)/1, $54
DATA gfperm<>+55(SB)/1, $62
DATA gfperm<>+56(SB)/1, $7
DATA gfperm<>+57(SB)/1, $15
DATA gfperm<>+58(SB)/1, $23
DATA gfperm<>+59(SB)/1, $31
DATA gfperm<>+60(SB)/1, $39
DATA gfperm<>+61(SB)/1, $47
DATA gfperm<>+62(SB)/1, $55
DATA gfperm<>+63(SB)/1, $63
GLOBL gfperm<>(SB), RODATA|NOPTR, $64

DATA qiota<>+0(SB)/8, $0
DATA qiota<>+8(SB)/8, $1
DATA qiota<>+16(SB)/8, $2
DATA qiota<>+24(SB)/8, $3
DATA qiota<>+32(SB)/8, $4
DATA qiota<>+40(SB)/8, $5
DATA qiota<>+48(SB)/8, $6
DATA qiota<>+56(SB)/8, $7
GLOBL qiota<>(SB), RODATA|NOPTR, $64

// func adcPixG512(x *uint8, xstride, npix int, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int32, out *int32, ostride int, tmp *uint64)
//
// adcPix512 with all eight bit planes of a tile formed at once
// (AVX512_VBMI and GFNI): per 64 bytes, VGF2P8AFFINEQB transposes each
// qword's 8×8 bit matrix and VPERMB gathers plane i's bytes into qword i,
// so that one VPOPCNTQ counts every plane. Within each byte of a plane
// word the bits are reversed (byte k of the tile is bit 8(k/8) + 7 − k%8):
// tmask and w must be laid out so (revBits8). Without branches, the unsafe
// planes of all tiles of a vector are listed first (VPCOMPRESSQ into four
// arrays of L = 8·ntiles + 8 words in tmp: lo words, hi words, plane,
// tile weights), then counted against every row. The excess is multiplied
// and added by one VPDPWSSD (AVX512_VNNI), coefs being int32 with the
// coefficient (|c| ≤ 2^14) in the low 16 bits and 0 in the high 16 bits.
TEXT ·adcPixG512(SB), NOSPLIT, $0-120
	VPBROADCASTB flip+24(FP), Z29
	VPBROADCASTQ sat+80(FP), Z31
	VMOVDQU64 gfbits<>(SB), Z27
	VMOVDQU64 gfperm<>(SB), Z26
	VMOVDQU64 qiota<>(SB), Z22
	MOVQ xbits+32(FP), CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVQ AX, K5               // the planes below xbits
	MOVQ x+0(FP), AX
	VMOVQ AX, X25
	MOVQ out+96(FP), AX
	VMOVQ AX, X24
	MOVQ npix+16(FP), AX
	VMOVQ AX, X23
	MOVQ tmp+112(FP), DI

agpix:
	VMOVQ X25, SI
	MOVQ tmask+40(FP), R8
	MOVQ ntiles+48(FP), CX
	MOVQ w+56(FP), R9
	LEAQ 1(CX), R11
	SHLQ $6, R11               // L·8 bytes per array
	LEAQ (DI)(R11*1), R11      // hi words
	LEAQ (R11)(R11*1), R13
	SUBQ DI, R13               // planes
	LEAQ (R13)(R11*1), R14
	SUBQ DI, R14               // tile weights
	XORQ R12, R12              // entries
	MOVQ wbits+64(FP), R15
	IMULQ rows8+72(FP), R15
	SHLQ $4, R15               // bytes of weights per tile

agtile:
	MOVQ (R8), AX          // a tile of ≤ sat rows cannot saturate
	ORQ 8(R8), AX
	JZ agtilenext
	VMOVDQU64 (SI), Z10
	VMOVDQU64 64(SI), Z11
	VPXORQ Z29, Z10, Z10
	VPXORQ Z29, Z11, Z11
	VGF2P8AFFINEQB $0, Z10, Z27, Z12
	VGF2P8AFFINEQB $0, Z11, Z27, Z13
	VPERMB Z12, Z26, Z12       // qword i: plane i of bytes 0-63
	VPERMB Z13, Z26, Z13       // of bytes 64-127
	VPANDQ.BCST (R8), Z12, Z12
	VPANDQ.BCST 8(R8), Z13, Z13
	VPOPCNTQ Z12, Z14
	VPOPCNTQ Z13, Z15
	VPADDQ Z15, Z14, Z14
	VPCMPQ $6, Z31, Z14, K5, K1 // unsafe: more than sat ones
	VPCOMPRESSQ Z12, K1, Z16
	VPCOMPRESSQ Z13, K1, Z17
	VPCOMPRESSQ Z22, K1, Z18
	VPBROADCASTQ R9, Z19
	VMOVDQU64 Z16, (DI)(R12*8)
	VMOVDQU64 Z17, (R11)(R12*8)
	VMOVDQU64 Z18, (R13)(R12*8)
	VMOVDQU64 Z19, (R14)(R12*8)
	KMOVQ K1, AX
	POPCNTQ AX, AX
	ADDQ AX, R12

agtilenext:
	ADDQ $128, SI
	ADDQ $16, R8
	ADDQ R15, R9
	DECQ CX
	JNZ agtile

	TESTQ R12, R12
	JZ agnextpix
	MOVQ R12, CX               // entries left
	MOVQ R11, R8
	SUBQ DI, R8                // L·8
	LEAQ (R8)(R8*2), R9        // 3·L·8
	MOVQ DI, SI                // entry
	MOVQ rows8+72(FP), R10
	MOVQ R10, AX
	SHLQ $4, AX                // bytes from one column's lo words to the next column's
	VMOVQ X24, R14

agent:
	VPBROADCASTQ (SI), Z1
	VPBROADCASTQ (SI)(R8*1), Z2
	MOVQ (SI)(R8*2), R12
	IMULQ wbits+64(FP), R12
	SHLQ $2, R12
	ADDQ coefs+88(FP), R12     // the plane's coefficients
	MOVQ (SI)(R9*1), R11       // the tile's weights
	XORQ BX, BX

aggroup:
	VPXORQ Z0, Z0, Z0
	LEAQ (R11)(BX*8), R15
	MOVQ R12, R13
	MOVQ wbits+64(FP), DX

agcol:
	VPANDQ (R15), Z1, Z3
	VPANDQ (R15)(R10*8), Z2, Z4
	VPOPCNTQ Z3, Z3
	VPOPCNTQ Z4, Z4
	VPADDQ Z4, Z3, Z3
	VPSUBUSW Z31, Z3, Z3
	VPDPWSSD.BCST (R13), Z3, Z0 // low dword += excess · coefficient
	ADDQ $4, R13
	ADDQ AX, R15
	DECQ DX
	JNZ agcol

	VPMOVQD Z0, Y5
	VPADDD (R14)(BX*4), Y5, Y5
	VMOVDQU Y5, (R14)(BX*4)
	ADDQ $8, BX
	CMPQ BX, R10
	JLT aggroup

	ADDQ $8, SI
	DECQ CX
	JNZ agent

agnextpix:
	VMOVQ X25, AX
	ADDQ xstride+8(FP), AX
	VMOVQ AX, X25
	VMOVQ X24, AX
	MOVQ ostride+104(FP), BX
	LEAQ (AX)(BX*4), AX
	VMOVQ AX, X24
	VMOVQ X23, AX
	DECQ AX
	VMOVQ AX, X23
	JNZ agpix
	VZEROUPPER
	RET

DATA tiota<>+0(SB)/4, $0
DATA tiota<>+4(SB)/4, $1
DATA tiota<>+8(SB)/4, $2
DATA tiota<>+12(SB)/4, $3
DATA tiota<>+16(SB)/4, $4
DATA tiota<>+20(SB)/4, $5
DATA tiota<>+24(SB)/4, $6
DATA tiota<>+28(SB)/4, $7
DATA tiota<>+32(SB)/4, $8
DATA tiota<>+36(SB)/4, $9
DATA tiota<>+40(SB)/4, $10
DATA tiota<>+44(SB)/4, $11
DATA tiota<>+48(SB)/4, $12
DATA tiota<>+52(SB)/4, $13
DATA tiota<>+56(SB)/4, $14
DATA tiota<>+60(SB)/4, $15
GLOBL tiota<>(SB), RODATA|NOPTR, $64

// func nhwc512(src *int32, hw, cin, n int, xoff int32, dst *uint8)
//
// One image row from CHW codes to NHWC bytes: for pixel p < n and channel
// c < cin (a multiple of 16), dst[p·cin + c] = uint8(src[c·hw + p] + xoff);
// sixteen channels per gather.
TEXT ·nhwc512(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ hw+8(FP), AX
	MOVQ cin+16(FP), CX
	MOVQ n+24(FP), DX
	MOVL xoff+32(FP), BX
	VPBROADCASTD BX, Z7
	MOVQ dst+40(FP), DI
	VMOVDQU32 tiota<>(SB), Z6
	VPBROADCASTD AX, Z5
	VPMULLD Z5, Z6, Z6        // channel offsets c·hw
	SHLQ $6, AX               // 16 channels = 16·hw·4 bytes
	SHRQ $4, CX               // channel groups

nhpix:
	MOVQ SI, R8
	MOVQ CX, R9

nhgroup:
	KXNORW K1, K1, K1
	VPXORD Z0, Z0, Z0
	VPGATHERDD (R8)(Z6*4), K1, Z0
	VPADDD Z7, Z0, Z0
	VPMOVDB Z0, X1
	VMOVDQU X1, (DI)
	ADDQ AX, R8
	ADDQ $16, DI
	DECQ R9
	JNZ nhgroup

	ADDQ $4, SI
	DECQ DX
	JNZ nhpix
	VZEROUPPER
	RET

// func nhwcT512(src *int32, hw, cin, n int, xoff int32, dst *uint8, idx *uint8)
//
// nhwc512 for long rows (n a multiple of 16, cin of 16): 16 channels × 16
// pixels at a time, each channel's 16 pixels one aligned-size load (so every
// cache line is read once, however the channel planes alias in L1), narrowed
// to bytes (VPMOVDB) and transposed in registers with two rounds of
// VPERMT2B (AVX512_VBMI). idx holds the four 64-byte index vectors.
TEXT ·nhwcT512(SB), NOSPLIT, $0-56
	MOVQ src+0(FP), SI
	MOVQ hw+8(FP), R8
	SHLQ $2, R8                // channel stride in bytes
	MOVQ cin+16(FP), R9
	MOVQ n+24(FP), CX
	SHRQ $4, CX                // pixel blocks
	MOVL xoff+32(FP), BX
	VPBROADCASTD BX, Z24
	MOVQ dst+40(FP), DI
	MOVQ idx+48(FP), AX
	VMOVDQU64 0(AX), Z20
	VMOVDQU64 64(AX), Z21
	VMOVDQU64 128(AX), Z22
	VMOVDQU64 192(AX), Z23

ntblock:
	MOVQ SI, R10               // channel group source
	MOVQ DI, R11               // channel group destination
	MOVQ R9, R12
	SHRQ $4, R12

ntgroup:
	MOVQ R10, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X0
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $1, X17, Z0, Z0
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $2, X17, Z0, Z0
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $3, X17, Z0, Z0
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X1
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $1, X17, Z1, Z1
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $2, X17, Z1, Z1
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $3, X17, Z1, Z1
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X2
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $1, X17, Z2, Z2
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $2, X17, Z2, Z2
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $3, X17, Z2, Z2
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X3
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $1, X17, Z3, Z3
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $2, X17, Z3, Z3
	ADDQ R8, R13
	VPADDD (R13), Z24, Z16
	VPMOVDB Z16, X17
	VINSERTI32X4 $3, X17, Z3, Z3
	ADDQ R8, R13

	// Z0..Z3: channels 4g..4g+3 × pixels 0..15 (byte c·16 + p).
	VMOVDQA64 Z0, Z4
	VPERMT2B Z1, Z20, Z4       // pixels 0-7 × channels 0-7
	VMOVDQA64 Z0, Z5
	VPERMT2B Z1, Z21, Z5       // pixels 8-15 × channels 0-7
	VMOVDQA64 Z2, Z6
	VPERMT2B Z3, Z20, Z6       // pixels 0-7 × channels 8-15
	VMOVDQA64 Z2, Z7
	VPERMT2B Z3, Z21, Z7       // pixels 8-15 × channels 8-15
	VMOVDQA64 Z4, Z8
	VPERMT2B Z6, Z22, Z8       // pixels 0-3 × channels 0-15
	VMOVDQA64 Z4, Z9
	VPERMT2B Z6, Z23, Z9       // pixels 4-7
	VMOVDQA64 Z5, Z10
	VPERMT2B Z7, Z22, Z10      // pixels 8-11
	VMOVDQA64 Z5, Z11
	VPERMT2B Z7, Z23, Z11      // pixels 12-15

	MOVQ R11, R13
	VMOVDQU X8, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $1, Z8, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $2, Z8, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $3, Z8, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VMOVDQU X9, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $1, Z9, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $2, Z9, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $3, Z9, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VMOVDQU X10, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $1, Z10, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $2, Z10, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $3, Z10, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VMOVDQU X11, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $1, Z11, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $2, Z11, X12
	VMOVDQU X12, (R13)
	ADDQ R9, R13
	VEXTRACTI32X4 $3, Z11, X12
	VMOVDQU X12, (R13)

	MOVQ R8, AX
	SHLQ $4, AX
	ADDQ AX, R10               // next 16 channels
	ADDQ $16, R11
	DECQ R12
	JNZ ntgroup

	ADDQ $64, SI               // next 16 pixels
	MOVQ R9, AX
	SHLQ $4, AX
	ADDQ AX, DI
	DECQ CX
	JNZ ntblock
	VZEROUPPER
	RET

// func gatherAVX2(dst, src *uint8, runs *run, nruns int)
//
// gatherRuns: for each run {dst, src, n} (three ints), copies n bytes from
// src+run.src to dst+run.dst, 32 bytes at a time, never reading or writing
// past a run's end. AVX2 only.
TEXT ·gatherAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), R8
	MOVQ src+8(FP), R9
	MOVQ runs+16(FP), R10
	MOVQ nruns+24(FP), R11

garun:
	MOVQ 0(R10), DI
	ADDQ R8, DI
	MOVQ 8(R10), SI
	ADDQ R9, SI
	MOVQ 16(R10), CX

ga32:
	CMPQ CX, $32
	JLT ga16
	VMOVDQU (SI), Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $32, CX
	JMP ga32

ga16:
	CMPQ CX, $16
	JLT ga8
	VMOVDQU (SI), X0
	VMOVDQU X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $16, CX

ga8:
	CMPQ CX, $8
	JLT ga1
	MOVQ (SI), AX
	MOVQ AX, (DI)
	ADDQ $8, SI
	ADDQ $8, DI
	SUBQ $8, CX

ga1:
	TESTQ CX, CX
	JZ ganext
	MOVB (SI), AX
	MOVB AX, (DI)
	INCQ SI
	INCQ DI
	DECQ CX
	JMP ga1

ganext:
	ADDQ $24, R10
	DECQ R11
	JNZ garun
	VZEROUPPER
	RET

// func dot8VNNI(x *uint8, w *int8, n, stride int, out *int32)
//
// dot8AVX2 with VPDPBUSD (AVX512_VNNI on 256-bit vectors): one instruction
// multiplies and accumulates 32 byte pairs into 32-bit lanes, so there is
// no 16-bit bound on n (a positive multiple of 32).
TEXT ·dot8VNNI(SB), NOSPLIT, $0-40
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

vnloop:
	VMOVDQU (SI)(AX*1), Y1
	VPDPBUSD (DI)(AX*1), Y1, Y0
	VPDPBUSD (R10)(AX*1), Y1, Y3
	VPDPBUSD (R11)(AX*1), Y1, Y4
	VPDPBUSD (R12)(AX*1), Y1, Y5
	VPDPBUSD (R13)(AX*1), Y1, Y6
	VPDPBUSD (R14)(AX*1), Y1, Y7
	VPDPBUSD (R15)(AX*1), Y1, Y8
	VPDPBUSD (DX)(AX*1), Y1, Y9
	ADDQ $32, AX
	CMPQ AX, CX
	JLT vnloop

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

// func rqT512(acc *int32, rall int, rows *rqRow, ngroups, npos int, out *int32, P int, res *int32)
//
// Requantizes a block (§6): acc is position-major ([npos][rall] int32), the
// output channel-major (out[c·P + i], res likewise). For each group of
// eight rows (rows[8g:8g+8], 56 bytes each: rqParams then c, −1 for
// padding) and eight positions, an 8×8 transpose in registers turns eight
// contiguous loads into each row's eight positions, which are then
// requantized in int64 (VPMULLQ) and stored contiguously. npos is a
// multiple of 8.
TEXT ·rqT512(SB), NOSPLIT, $0-64
	MOVQ acc+0(FP), SI
	MOVQ rall+8(FP), CX
	SHLQ $2, CX                // bytes per position
	MOVQ rows+16(FP), R8
	MOVQ ngroups+24(FP), R11
	MOVQ out+40(FP), DI
	MOVQ P+48(FP), R9
	MOVQ res+56(FP), R10

rtgroup:
	XORQ BX, BX                // position i0

rtpos:
	MOVQ BX, R13
	IMULQ CX, R13
	ADDQ SI, R13
	VMOVDQU (R13), Y0
	ADDQ CX, R13
	VMOVDQU (R13), Y1
	ADDQ CX, R13
	VMOVDQU (R13), Y2
	ADDQ CX, R13
	VMOVDQU (R13), Y3
	ADDQ CX, R13
	VMOVDQU (R13), Y4
	ADDQ CX, R13
	VMOVDQU (R13), Y5
	ADDQ CX, R13
	VMOVDQU (R13), Y6
	ADDQ CX, R13
	VMOVDQU (R13), Y7
	VPUNPCKLDQ Y1, Y0, Y8
	VPUNPCKHDQ Y1, Y0, Y9
	VPUNPCKLDQ Y3, Y2, Y10
	VPUNPCKHDQ Y3, Y2, Y11
	VPUNPCKLDQ Y5, Y4, Y12
	VPUNPCKHDQ Y5, Y4, Y13
	VPUNPCKLDQ Y7, Y6, Y14
	VPUNPCKHDQ Y7, Y6, Y15
	VPUNPCKLQDQ Y10, Y8, Y0
	VPUNPCKHQDQ Y10, Y8, Y1
	VPUNPCKLQDQ Y11, Y9, Y2
	VPUNPCKHQDQ Y11, Y9, Y3
	VPUNPCKLQDQ Y14, Y12, Y4
	VPUNPCKHQDQ Y14, Y12, Y5
	VPUNPCKLQDQ Y15, Y13, Y6
	VPUNPCKHQDQ Y15, Y13, Y7
	VPERM2I128 $0x20, Y4, Y0, Y8
	VPERM2I128 $0x31, Y4, Y0, Y12
	VPERM2I128 $0x20, Y5, Y1, Y9
	VPERM2I128 $0x31, Y5, Y1, Y13
	VPERM2I128 $0x20, Y6, Y2, Y10
	VPERM2I128 $0x31, Y6, Y2, Y14
	VPERM2I128 $0x20, Y7, Y3, Y11
	VPERM2I128 $0x31, Y7, Y3, Y15
	// Y8+j: row 8g+j at positions i0..i0+7.
	MOVLQSX 48(R8), AX
	TESTQ AX, AX
	JS rtskip0
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y8, Z16
	VPBROADCASTQ 0(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores0
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 16(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores0:
	VPBROADCASTQ 8(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 24(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 32(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 40(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip0:
	MOVLQSX 104(R8), AX
	TESTQ AX, AX
	JS rtskip1
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y9, Z16
	VPBROADCASTQ 56(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores1
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 72(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores1:
	VPBROADCASTQ 64(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 80(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 88(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 96(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip1:
	MOVLQSX 160(R8), AX
	TESTQ AX, AX
	JS rtskip2
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y10, Z16
	VPBROADCASTQ 112(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores2
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 128(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores2:
	VPBROADCASTQ 120(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 136(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 144(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 152(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip2:
	MOVLQSX 216(R8), AX
	TESTQ AX, AX
	JS rtskip3
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y11, Z16
	VPBROADCASTQ 168(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores3
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 184(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores3:
	VPBROADCASTQ 176(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 192(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 200(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 208(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip3:
	MOVLQSX 272(R8), AX
	TESTQ AX, AX
	JS rtskip4
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y12, Z16
	VPBROADCASTQ 224(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores4
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 240(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores4:
	VPBROADCASTQ 232(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 248(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 256(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 264(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip4:
	MOVLQSX 328(R8), AX
	TESTQ AX, AX
	JS rtskip5
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y13, Z16
	VPBROADCASTQ 280(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores5
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 296(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores5:
	VPBROADCASTQ 288(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 304(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 312(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 320(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip5:
	MOVLQSX 384(R8), AX
	TESTQ AX, AX
	JS rtskip6
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y14, Z16
	VPBROADCASTQ 336(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores6
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 352(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores6:
	VPBROADCASTQ 344(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 360(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 368(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 376(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip6:
	MOVLQSX 440(R8), AX
	TESTQ AX, AX
	JS rtskip7
	IMULQ R9, AX
	ADDQ BX, AX                // c·P + i0
	VPMOVSXDQ Y15, Z16
	VPBROADCASTQ 392(R8), Z17
	VPMULLQ Z17, Z16, Z16
	TESTQ R10, R10
	JZ rtnores7
	VPMOVSXDQ (R10)(AX*4), Z18
	VPBROADCASTQ 408(R8), Z17
	VPMULLQ Z17, Z18, Z18
	VPADDQ Z18, Z16, Z16

rtnores7:
	VPBROADCASTQ 400(R8), Z17
	VPADDQ Z17, Z16, Z16
	VMOVQ 416(R8), X0
	VPSRAQ X0, Z16, Z16
	VPBROADCASTQ 424(R8), Z17
	VPMAXSQ Z17, Z16, Z16
	VPBROADCASTQ 432(R8), Z17
	VPMINSQ Z17, Z16, Z16
	VPMOVQD Z16, Y1
	VMOVDQU Y1, (DI)(AX*4)

rtskip7:
	ADDQ $8, BX
	CMPQ BX, npos+32(FP)
	JLT rtpos

	ADDQ $32, SI               // next 8 rows of acc
	ADDQ $448, R8              // 8 × 56 bytes of rows
	DECQ R11
	JNZ rtgroup
	VZEROUPPER
	RET

// func dotBlkVNNI(x *uint8, xstride, npix int, w *int8, kq, ngroups int, bias *int32, out *int32, ostride int, lastMask uint64)
//
// The exact dot products of npix window vectors (x[p·xstride:], 4·kq bytes
// each, unsigned) with every row: for row group g < ngroups (16 rows, w
// laid out [g][kq][16 rows][4 bytes], signed) and pixel p,
//   out[p·ostride + 16g + l] = bias[16g + l] + Σ_k x[p·xstride+k]·w_row(16g+l)[k]
// for the lanes l of the group's mask (all 16, lastMask for the last
// group). One VPDPBUSD multiplies a row group's four weights by one
// pixel's four broadcast bytes; eight pixels share each weight load.
TEXT ·dotBlkVNNI(SB), NOSPLIT, $0-80
	MOVQ xstride+8(FP), R9
	LEAQ (R9)(R9*2), R10       // 3·xs
	LEAQ (R9)(R9*4), R11       // 5·xs
	LEAQ (R10)(R9*4), R12      // 7·xs
	MOVQ ostride+64(FP), R8
	SHLQ $2, R8                // output stride in bytes
	MOVQ w+24(FP), DI
	MOVQ bias+48(FP), BX
	MOVQ out+56(FP), AX
	VMOVQ AX, X30               // output of the group's first pixel
	MOVQ ngroups+40(FP), AX
	VMOVQ AX, X31               // groups left

dbgroup:
	VMOVQ X31, AX
	MOVQ $0xffff, DX
	CMPQ AX, $1
	JNE dbmask
	MOVQ lastMask+72(FP), DX

dbmask:
	KMOVQ DX, K1
	VMOVDQU32 (BX), Z20
	MOVQ x+0(FP), SI
	VMOVQ X30, DX
	MOVQ npix+16(FP), AX

dbpix8:
	CMPQ AX, $8
	JLT dbpix1
	VMOVDQA64 Z20, Z0
	VMOVDQA64 Z20, Z1
	VMOVDQA64 Z20, Z2
	VMOVDQA64 Z20, Z3
	VMOVDQA64 Z20, Z4
	VMOVDQA64 Z20, Z5
	VMOVDQA64 Z20, Z6
	VMOVDQA64 Z20, Z7
	MOVQ SI, R14
	MOVQ DI, R15
	MOVQ kq+32(FP), CX

dbk8:
	VMOVDQU32 (R15), Z8
	VPBROADCASTD (R14), Z9
	VPDPBUSD Z8, Z9, Z0
	VPBROADCASTD (R14)(R9*1), Z10
	VPDPBUSD Z8, Z10, Z1
	VPBROADCASTD (R14)(R9*2), Z11
	VPDPBUSD Z8, Z11, Z2
	VPBROADCASTD (R14)(R10*1), Z12
	VPDPBUSD Z8, Z12, Z3
	VPBROADCASTD (R14)(R9*4), Z13
	VPDPBUSD Z8, Z13, Z4
	VPBROADCASTD (R14)(R11*1), Z14
	VPDPBUSD Z8, Z14, Z5
	VPBROADCASTD (R14)(R10*2), Z15
	VPDPBUSD Z8, Z15, Z6
	VPBROADCASTD (R14)(R12*1), Z16
	VPDPBUSD Z8, Z16, Z7
	ADDQ $64, R15
	ADDQ $4, R14
	DECQ CX
	JNZ dbk8

	VMOVDQU32 Z0, K1, (DX)
	ADDQ R8, DX
	VMOVDQU32 Z1, K1, (DX)
	ADDQ R8, DX
	VMOVDQU32 Z2, K1, (DX)
	ADDQ R8, DX
	VMOVDQU32 Z3, K1, (DX)
	ADDQ R8, DX
	VMOVDQU32 Z4, K1, (DX)
	ADDQ R8, DX
	VMOVDQU32 Z5, K1, (DX)
	ADDQ R8, DX
	VMOVDQU32 Z6, K1, (DX)
	ADDQ R8, DX
	VMOVDQU32 Z7, K1, (DX)
	ADDQ R8, DX
	LEAQ (SI)(R9*8), SI
	SUBQ $8, AX
	JMP dbpix8

dbpix1:
	TESTQ AX, AX
	JZ dbnext
	VMOVDQA64 Z20, Z0
	VPXORQ Z1, Z1, Z1
	MOVQ SI, R14
	MOVQ DI, R15
	MOVQ kq+32(FP), CX
	SHRQ $1, CX                // kq is even: two quads per step

dbk1:
	VPBROADCASTD (R14), Z9
	VPDPBUSD (R15), Z9, Z0
	VPBROADCASTD 4(R14), Z10
	VPDPBUSD 64(R15), Z10, Z1
	ADDQ $128, R15
	ADDQ $8, R14
	DECQ CX
	JNZ dbk1

	VPADDD Z1, Z0, Z0
	VMOVDQU32 Z0, K1, (DX)
	ADDQ R8, DX
	ADDQ R9, SI
	DECQ AX
	JMP dbpix1

dbnext:
	MOVQ kq+32(FP), AX
	SHLQ $6, AX
	ADDQ AX, DI                // next group's weights
	ADDQ $64, BX
	VMOVQ X30, AX
	ADDQ $64, AX
	VMOVQ AX, X30
	VMOVQ X31, AX
	DECQ AX
	VMOVQ AX, X31
	JNZ dbgroup
	VZEROUPPER
	RET

// func gatherBlk512(dst *uint8, xs int, src *uint8, bases *int, npix int, runs *run, nruns int)
//
// gatherRuns for npix windows: window p's vector dst[p·xs:] gets, for each
// run {dst, src, n}, the n bytes at src[bases[p] + run.src], 64 bytes per
// move: up to 63 bytes past a run's end are read and written (the next
// run rewrites them; the caller leaves 64 bytes of slack).
TEXT ·gatherBlk512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), R8
	MOVQ xs+8(FP), R12
	MOVQ src+16(FP), R9
	MOVQ bases+24(FP), R13
	MOVQ npix+32(FP), R14

gbpix:
	MOVQ runs+40(FP), R10
	MOVQ nruns+48(FP), R11
	MOVQ (R13), AX
	LEAQ (R9)(AX*1), BX

gbrun:
	MOVQ 0(R10), DI
	ADDQ R8, DI
	MOVQ 8(R10), SI
	ADDQ BX, SI
	MOVQ 16(R10), CX

gb64:
	VMOVDQU64 (SI), Z0
	VMOVDQU64 Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $64, CX
	JG gb64

	ADDQ $24, R10
	DECQ R11
	JNZ gbrun
	ADDQ R12, R8
	ADDQ $8, R13
	DECQ R14
	JNZ gbpix
	VZEROUPPER
	RET
