//go:build amd64 && (darwin || freebsd || linux || netbsd)

#include "textflag.h"
#include "go_asm.h"

// minABI0 holds callMin's address, for runtime.cgocall.
GLOBL ·minABI0(SB), NOPTR|RODATA, $8
DATA ·minABI0(SB)/8, $·callMin<>(SB)

// callMin is entered from runtime.asmcgocall on the system stack with the
// System V calling convention: DI = *minArgs. It calls
// int32_t fn(int32_t a, int32_t b) and stores the result in ret.
// BX and BP are callee-saved in that convention, so they are restored.
TEXT ·callMin<>(SB), NOSPLIT|NOFRAME, $0
	PUSHQ BP
	MOVQ  SP, BP
	PUSHQ BX                 // BX keeps *minArgs across the call
	MOVQ  DI, BX
	ANDQ  $~15, SP           // the C ABI wants SP 16-byte aligned at the CALL
	MOVL  minArgs_a(BX), DI  // a, b: the first two integer arguments
	MOVL  minArgs_b(BX), SI
	MOVQ  minArgs_fn(BX), AX
	CALL  AX
	MOVL  AX, minArgs_ret(BX) // int32_t result in EAX
	LEAQ  -8(BP), SP         // back to the saved BX, whatever the alignment took
	POPQ  BX
	POPQ  BP
	RET
