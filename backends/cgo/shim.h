/*
 * shim.h: the C side of the cgo backend, included by the preamble of each
 * cgo file of package cgo (not by export.go: a file with //export may only
 * declare). One tiny static function per call of plugbench.h: it casts the
 * address dlsym found to the export's type and calls it. Being static and
 * in the preamble, each is inlined into the stub cgo generates for it, so a
 * call costs one cgo crossing and one indirect call, nothing more.
 *
 * Every C address (a library handle, a function, a plugbench_state*, the
 * view's arena) crosses as a uintptr_t: cgo checks each pointer argument
 * for Go pointers at run time (GODEBUG=cgocheck=1, the default), and these
 * are never Go memory. Go memory (a payload, an encoded event) crosses as a
 * pointer, which cgo checks and which keeps it alive during the call.
 */
#ifndef PLUGBENCH_CGO_SHIM_H
#define PLUGBENCH_CGO_SHIM_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugbench.h" /* fixtures/c: the ABI, types and layouts */

/* The host function every instance's plugin calls back (export.go). */
extern int64_t pbHostEmit(uint64_t ctx, int64_t v);

/* pbc_err copies dlerror's message (thread-local: it must be read on the
 * thread that failed, inside the same C call) into err[0:n]. */
static void pbc_err(char *err, size_t n, const char *fallback) {
	const char *e = dlerror();
	snprintf(err, n, "%s", e ? e : fallback);
}

static uintptr_t pbc_dlopen(const char *path, char *err, size_t n) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		pbc_err(err, n, "dlopen failed");
	return (uintptr_t)h;
}

/* pbc_dlsym returns the address of name, or 0 with a message in err (an
 * absent symbol, or one whose address is NULL). */
static uintptr_t pbc_dlsym(uintptr_t h, const char *name, char *err, size_t n) {
	dlerror(); /* clear */
	void *p = dlsym((void *)h, name);
	if (!p)
		pbc_err(err, n, "symbol has a NULL address");
	return (uintptr_t)p;
}

static int pbc_dlclose(uintptr_t h, char *err, size_t n) {
	int r = dlclose((void *)h);
	if (r != 0)
		pbc_err(err, n, "dlclose failed");
	return r;
}

static int32_t pbc_version(uintptr_t fn) { return ((int32_t (*)(void))fn)(); }

/* pbc_identity copies at most n bytes of the identity string into buf (Go
 * memory) and returns how many; 0 for a NULL string. strnlen never reads
 * past the NUL. */
static size_t pbc_identity(uintptr_t fn, char *buf, size_t n) {
	const char *s = ((const char *(*)(void))fn)();
	if (!s)
		return 0;
	size_t len = strnlen(s, n);
	memcpy(buf, s, len);
	return len;
}

static uintptr_t pbc_new(uintptr_t fn) { return (uintptr_t)((plugbench_state * (*)(void)) fn)(); }

static void pbc_free(uintptr_t fn, uintptr_t s) { ((void (*)(plugbench_state *))fn)((plugbench_state *)s); }

static int32_t pbc_min(uintptr_t fn, int32_t a, int32_t b) {
	return ((int32_t (*)(int32_t, int32_t))fn)(a, b);
}

static int64_t pbc_accumulate(uintptr_t fn, uintptr_t s, int64_t x) {
	return ((int64_t (*)(plugbench_state *, int64_t))fn)((plugbench_state *)s, x);
}

static uint64_t pbc_sum(uintptr_t fn, const uint8_t *p, size_t n) {
	return ((uint64_t (*)(const uint8_t *, size_t))fn)(p, n);
}

static void pbc_upper(uintptr_t fn, uint8_t *p, size_t n) { ((void (*)(uint8_t *, size_t))fn)(p, n); }

/* pbc_event calls one of the encoded transports (json, binary, flat). */
static int64_t pbc_event(uintptr_t fn, uintptr_t s, const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
	return ((int64_t (*)(plugbench_state *, const uint8_t *, size_t, uint8_t *, size_t))fn)(
		(plugbench_state *)s, in, n, out, cap);
}

static int64_t pbc_view(uintptr_t fn, uintptr_t s, uintptr_t ev, uintptr_t score) {
	return ((int64_t (*)(plugbench_state *, pb_event *, uint64_t *))fn)(
		(plugbench_state *)s, (pb_event *)ev, (uint64_t *)score);
}

/* pbc_set_host gives the plugin pbHostEmit, an exported Go function, as its
 * host function, with the instance's hostfn handle as ctx. */
static void pbc_set_host(uintptr_t fn, uintptr_t s, uint64_t ctx) {
	((void (*)(plugbench_state *, plugbench_emit_fn, uint64_t))fn)((plugbench_state *)s, pbHostEmit, ctx);
}

static int64_t pbc_callback(uintptr_t fn, uintptr_t s, int32_t k) {
	return ((int64_t (*)(plugbench_state *, int32_t))fn)((plugbench_state *)s, k);
}

/* pbc_ref_min is the benchmark's reference, written as
 * bench/internal/cgoref writes it: the function pointer as a void *. */
static int32_t pbc_ref_min(void *fn, int32_t a, int32_t b) {
	return ((int32_t (*)(int32_t, int32_t))fn)(a, b);
}

#endif
