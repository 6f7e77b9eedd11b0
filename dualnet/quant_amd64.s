#include "textflag.h"

// func quantCodesAVX2(codes *int8, w *float32, n int, inv, thr, q, near float64) (done int)
//
// Per weight v (as float64): t = v·inv, r = RoundToEven(t) (VROUNDPD $0:
// rne's result for |t| < 2^51, up to the sign of zero), f = t − r. The
// lane is fine when |v| ≥ thr (its code is then ±q: r has v's sign and
// |r| ≥ q) or f² ≤ near; NaN fails both. The code is r clamped to
// [−q, q], converted to int32 and truncated to its low byte (as int8(int)
// does). Blocks of 16; a block with a lane not fine stops the loop.
TEXT ·quantCodesAVX2(SB), NOSPLIT, $0-64
	MOVQ codes+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD inv+24(FP), Y14
	VBROADCASTSD thr+32(FP), Y13
	VBROADCASTSD q+40(FP), Y12
	VBROADCASTSD near+48(FP), Y10
	MOVQ $0x7fffffffffffffff, BX
	MOVQ BX, X15
	VPBROADCASTQ X15, Y15
	MOVQ $0x8000000000000000, BX
	MOVQ BX, X11
	VPBROADCASTQ X11, Y11
	VXORPD Y12, Y11, Y11 // −q
	MOVL $0xff, BX
	MOVL BX, X9
	VPBROADCASTD X9, X9
	XORQ AX, AX
	TESTQ CX, CX
	JEQ done

loop:
	VPCMPEQD Y8, Y8, Y8 // all lanes fine so far

	VCVTPS2PD (SI)(AX*4), Y0
	VMULPD Y14, Y0, Y1
	VROUNDPD $0, Y1, Y2
	VSUBPD Y2, Y1, Y1
	VMULPD Y1, Y1, Y1
	VCMPPD $0x12, Y10, Y1, Y1 // f² ≤ near
	VANDPD Y15, Y0, Y0
	VCMPPD $0x1d, Y13, Y0, Y0 // |v| ≥ thr
	VORPD Y0, Y1, Y1
	VANDPD Y1, Y8, Y8
	VMINPD Y12, Y2, Y2
	VMAXPD Y11, Y2, Y2
	VCVTPD2DQY Y2, X4

	VCVTPS2PD 16(SI)(AX*4), Y0
	VMULPD Y14, Y0, Y1
	VROUNDPD $0, Y1, Y2
	VSUBPD Y2, Y1, Y1
	VMULPD Y1, Y1, Y1
	VCMPPD $0x12, Y10, Y1, Y1
	VANDPD Y15, Y0, Y0
	VCMPPD $0x1d, Y13, Y0, Y0
	VORPD Y0, Y1, Y1
	VANDPD Y1, Y8, Y8
	VMINPD Y12, Y2, Y2
	VMAXPD Y11, Y2, Y2
	VCVTPD2DQY Y2, X5

	VCVTPS2PD 32(SI)(AX*4), Y0
	VMULPD Y14, Y0, Y1
	VROUNDPD $0, Y1, Y2
	VSUBPD Y2, Y1, Y1
	VMULPD Y1, Y1, Y1
	VCMPPD $0x12, Y10, Y1, Y1
	VANDPD Y15, Y0, Y0
	VCMPPD $0x1d, Y13, Y0, Y0
	VORPD Y0, Y1, Y1
	VANDPD Y1, Y8, Y8
	VMINPD Y12, Y2, Y2
	VMAXPD Y11, Y2, Y2
	VCVTPD2DQY Y2, X6

	VCVTPS2PD 48(SI)(AX*4), Y0
	VMULPD Y14, Y0, Y1
	VROUNDPD $0, Y1, Y2
	VSUBPD Y2, Y1, Y1
	VMULPD Y1, Y1, Y1
	VCMPPD $0x12, Y10, Y1, Y1
	VANDPD Y15, Y0, Y0
	VCMPPD $0x1d, Y13, Y0, Y0
	VORPD Y0, Y1, Y1
	VANDPD Y1, Y8, Y8
	VMINPD Y12, Y2, Y2
	VMAXPD Y11, Y2, Y2
	VCVTPD2DQY Y2, X7

	VMOVMSKPD Y8, BX
	CMPL BX, $15
	JNE done

	// Low bytes of the int32 codes, in order (0..255 survive both packs).
	VPAND X9, X4, X4
	VPAND X9, X5, X5
	VPAND X9, X6, X6
	VPAND X9, X7, X7
	VPACKUSDW X5, X4, X4
	VPACKUSDW X7, X6, X6
	VPACKUSWB X6, X4, X4
	VMOVDQU X4, (DI)(AX*1)
	ADDQ $16, AX
	CMPQ AX, CX
	JLT loop

done:
	MOVQ AX, done+56(FP)
	VZEROUPPER
	RET

// func sumAbsAVX2(w *float32, n int) (sum float64, minb uint32)
//
// sum = Σ float64(|w[i]|) (four chains of four lanes, then a tree), minb =
// min over i of bits(|w[i]|) − 1, unsigned (zeros wrap to 2^32 − 1).
// n is a multiple of 16.
TEXT ·sumAbsAVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0x7fffffff, BX
	MOVL BX, X15
	VPBROADCASTD X15, Y15
	VPCMPEQD Y13, Y13, Y13 // −1 per lane
	VPCMPEQD Y12, Y12, Y12 // running minimum
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ AX, AX
	TESTQ CX, CX
	JEQ reduce

sloop:
	VPAND (SI)(AX*4), Y15, Y4
	VPAND 32(SI)(AX*4), Y15, Y5
	VPADDD Y13, Y4, Y6
	VPMINUD Y6, Y12, Y12
	VPADDD Y13, Y5, Y7
	VPMINUD Y7, Y12, Y12
	VCVTPS2PD X4, Y6
	VADDPD Y6, Y0, Y0
	VEXTRACTI128 $1, Y4, X4
	VCVTPS2PD X4, Y4
	VADDPD Y4, Y1, Y1
	VCVTPS2PD X5, Y7
	VADDPD Y7, Y2, Y2
	VEXTRACTI128 $1, Y5, X5
	VCVTPS2PD X5, Y5
	VADDPD Y5, Y3, Y3
	ADDQ $16, AX
	CMPQ AX, CX
	JLT sloop

reduce:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VPERMILPD $1, X0, X1
	VADDSD X1, X0, X0
	VMOVSD X0, sum+16(FP)
	VEXTRACTI128 $1, Y12, X1
	VPMINUD X1, X12, X12
	VPSHUFD $0x4e, X12, X1
	VPMINUD X1, X12, X12
	VPSHUFD $0xb1, X12, X1
	VPMINUD X1, X12, X12
	VMOVD X12, BX
	MOVL BX, minb+24(FP)
	VZEROUPPER
	RET

// func twnAVX2(w *float32, t *int8, n int, db uint32) (a float64, cnt uint32)
//
// For each weight with bits b, ab = b & 0x7fffffff: in = ab > db (as
// int32, both non-negative), t = in ? (b < 0 ? −1 : 1) : 0, a += float64
// of the float32 with bits ab & −in, cnt += in. n is a multiple of 16.
TEXT ·twnAVX2(SB), NOSPLIT, $0-44
	MOVQ w+0(FP), SI
	MOVQ t+8(FP), DI
	MOVQ n+16(FP), CX
	MOVL $0x7fffffff, BX
	MOVL BX, X15
	VPBROADCASTD X15, Y15
	MOVL db+24(FP), BX
	MOVL BX, X14
	VPBROADCASTD X14, Y14
	MOVL $1, BX
	MOVL BX, X13
	VPBROADCASTD X13, Y13
	VPXOR Y12, Y12, Y12 // count per lane
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ AX, AX
	TESTQ CX, CX
	JEQ treduce

tloop:
	VMOVDQU (SI)(AX*4), Y4
	VMOVDQU 32(SI)(AX*4), Y5
	VPAND Y15, Y4, Y6
	VPCMPGTD Y14, Y6, Y7 // ab > db
	VPAND Y7, Y6, Y6
	VPSUBD Y7, Y12, Y12
	VPSRAD $31, Y4, Y4
	VPOR Y13, Y4, Y4
	VPAND Y7, Y4, Y4
	VCVTPS2PD X6, Y8
	VADDPD Y8, Y0, Y0
	VEXTRACTI128 $1, Y6, X6
	VCVTPS2PD X6, Y6
	VADDPD Y6, Y1, Y1

	VPAND Y15, Y5, Y6
	VPCMPGTD Y14, Y6, Y7
	VPAND Y7, Y6, Y6
	VPSUBD Y7, Y12, Y12
	VPSRAD $31, Y5, Y5
	VPOR Y13, Y5, Y5
	VPAND Y7, Y5, Y5
	VCVTPS2PD X6, Y8
	VADDPD Y8, Y2, Y2
	VEXTRACTI128 $1, Y6, X6
	VCVTPS2PD X6, Y6
	VADDPD Y6, Y3, Y3

	// Codes −1, 0, 1 to bytes, in order.
	VPACKSSDW Y5, Y4, Y4 // words 0-3 8-11 | 4-7 12-15
	VPERMQ $0xd8, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPACKSSWB X5, X4, X4
	VMOVDQU X4, (DI)(AX*1)
	ADDQ $16, AX
	CMPQ AX, CX
	JLT tloop

treduce:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VPERMILPD $1, X0, X1
	VADDSD X1, X0, X0
	VMOVSD X0, a+32(FP)
	VEXTRACTI128 $1, Y12, X1
	VPADDD X1, X12, X12
	VPSHUFD $0x4e, X12, X1
	VPADDD X1, X12, X12
	VPSHUFD $0xb1, X12, X1
	VPADDD X1, X12, X12
	VMOVD X12, BX
	MOVL BX, cnt+40(FP)
	VZEROUPPER
	RET

// func mseBinsAVX2(w *float32, n int, inv float64, last int32, out *int32)
//
// out[i] = min(int32(trunc(float64(|w[i]|)·inv)), last), as mseCandidates'
// bin (the product non-negative and below 2^31). n is a multiple of 8.
TEXT ·mseBinsAVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD inv+16(FP), Y14
	MOVL last+24(FP), BX
	MOVL BX, X13
	VPBROADCASTD X13, Y13
	MOVQ out+32(FP), DI
	MOVL $0x7fffffff, BX
	MOVL BX, X15
	VPBROADCASTD X15, Y15
	XORQ AX, AX
	TESTQ CX, CX
	JEQ bdone

bloop:
	VPAND (SI)(AX*4), Y15, Y0
	VCVTPS2PD X0, Y1
	VEXTRACTI128 $1, Y0, X0
	VCVTPS2PD X0, Y2
	VMULPD Y14, Y1, Y1
	VMULPD Y14, Y2, Y2
	VCVTTPD2DQY Y1, X1
	VCVTTPD2DQY Y2, X2
	VINSERTI128 $1, X2, Y1, Y1
	VPMINSD Y13, Y1, Y1
	VMOVDQU Y1, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT bloop

bdone:
	VZEROUPPER
	RET
