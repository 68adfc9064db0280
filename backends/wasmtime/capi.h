// capi.h: the part of Wasmtime's C API (wasmtime-go's build/include, v39)
// that package wasmtime calls directly, declared as those headers declare
// it, and the package's C helpers. See capi.go.
#ifndef PLUGBENCH_WASMTIME_CAPI_H
#define PLUGBENCH_WASMTIME_CAPI_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_byte_vec_t {
	size_t size;
	char *data;
} wasm_byte_vec_t;

typedef struct wasmtime_func {
	uint64_t store_id;
	void *__private;
} wasmtime_func_t;

typedef struct wasmtime_memory {
	struct {
		uint64_t store_id;
		uint32_t __private1;
	};
	uint32_t __private2;
} wasmtime_memory_t;

typedef union wasmtime_val_raw {
	int32_t i32;
	int64_t i64;
	float f32;
	double f64;
	uint8_t v128[16];
	uint32_t anyref;
	uint32_t externref;
	void *funcref;
} wasmtime_val_raw_t;

typedef wasm_trap_t *(*wasmtime_func_unchecked_callback_t)(void *env, wasmtime_caller_t *caller,
	wasmtime_val_raw_t *args_and_results, size_t num_args_and_results);

extern wasmtime_error_t *wasmtime_func_call_unchecked(wasmtime_context_t *store, const wasmtime_func_t *func,
	wasmtime_val_raw_t *args_and_results, size_t args_and_results_len, wasm_trap_t **trap);
extern void wasmtime_context_set_epoch_deadline(wasmtime_context_t *context, uint64_t ticks_beyond_current);
extern void wasmtime_store_epoch_deadline_callback(wasmtime_store_t *store,
	wasmtime_error_t *(*func)(wasmtime_context_t *context, void *data, uint64_t *epoch_deadline_delta, uint8_t *update_kind),
	void *data, void (*finalizer)(void *));
extern uint8_t *wasmtime_memory_data(const wasmtime_context_t *store, const wasmtime_memory_t *memory);
extern size_t wasmtime_memory_data_size(const wasmtime_context_t *store, const wasmtime_memory_t *memory);
extern wasmtime_error_t *wasmtime_linker_define_func_unchecked(wasmtime_linker_t *linker,
	const char *module, size_t module_len, const char *name, size_t name_len, const wasm_functype_t *ty,
	wasmtime_func_unchecked_callback_t cb, void *data, void (*finalizer)(void *));
extern wasmtime_error_t *wasmtime_error_new(const char *);
extern void wasmtime_error_delete(wasmtime_error_t *error);
extern void wasmtime_error_message(const wasmtime_error_t *error, wasm_byte_vec_t *message);
extern bool wasmtime_error_exit_status(const wasmtime_error_t *, int *status);
extern wasm_trap_t *wasmtime_trap_new(const char *msg, size_t msg_len);
extern bool wasmtime_trap_code(const wasm_trap_t *, uint8_t *code);
extern void wasm_trap_message(const wasm_trap_t *, wasm_byte_vec_t *out);
extern void wasm_trap_delete(wasm_trap_t *);
extern void wasm_byte_vec_delete(wasm_byte_vec_t *);

// The exported Go functions (export.go).
extern int pbEpoch(uintptr_t h);
extern int64_t pbEmit(uint64_t h, int64_t v, char **panicked);

enum { PB_NARGS = 6, PB_NFUNCS = 17 };

// pb_inst is an instance as its calls need it, in C memory: Go writes the
// arguments into args and reads the results from there, and a call is one
// cgo call with two integer arguments, which cgo does not check.
typedef struct pb_inst {
	wasmtime_context_t *cx;
	wasmtime_memory_t mem;
	uint8_t *base;         // the memory as of the last pb_mem
	size_t size;
	uint64_t delta;        // epoch deadline set before each call, 0: leave it
	wasmtime_error_t *err; // of the last failed call
	wasm_trap_t *trap;
	wasmtime_val_raw_t args[PB_NARGS];
	wasmtime_func_t fn[PB_NFUNCS];
} pb_inst;

static inline int pb_call(uintptr_t p, size_t fn) {
	pb_inst *in = (pb_inst *)p;
	if (in->delta) {
		wasmtime_context_set_epoch_deadline(in->cx, in->delta);
	}
	in->trap = NULL;
	in->err = wasmtime_func_call_unchecked(in->cx, &in->fn[fn], in->args, PB_NARGS, &in->trap);
	return in->err != NULL || in->trap != NULL;
}

static inline void pb_mem(uintptr_t p) {
	pb_inst *in = (pb_inst *)p;
	in->base = wasmtime_memory_data(in->cx, &in->mem);
	in->size = wasmtime_memory_data_size(in->cx, &in->mem);
}

static inline void pb_deadline(uintptr_t cx, uint64_t delta) {
	wasmtime_context_set_epoch_deadline((wasmtime_context_t *)cx, delta);
}

static inline wasmtime_error_t *pb_epoch_cb(wasmtime_context_t *cx, void *data, uint64_t *delta, uint8_t *kind) {
	if (pbEpoch((uintptr_t)data)) {
		*delta = 1;
		*kind = 0; // WASMTIME_UPDATE_DEADLINE_CONTINUE
		return NULL;
	}
	return wasmtime_error_new("plugbench: the guest was stopped at its deadline");
}

static inline void pb_set_epoch_cb(uintptr_t store, uintptr_t h) {
	wasmtime_store_epoch_deadline_callback((wasmtime_store_t *)store, pb_epoch_cb, (void *)h, NULL);
}

// pb_emit is "plugbench" "emit" (i64 ctx, i64 v) -> i64: every instance of
// the engine calls it, and it finds the instance's function by ctx.
static inline wasm_trap_t *pb_emit(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *a, size_t n) {
	char *panicked = NULL;
	a[0].i64 = pbEmit((uint64_t)a[0].i64, a[1].i64, &panicked);
	if (panicked != NULL) {
		wasm_trap_t *t = wasmtime_trap_new(panicked, strlen(panicked));
		free(panicked);
		return t;
	}
	return NULL;
}

static inline wasmtime_error_t *pb_define_emit(uintptr_t linker, uintptr_t ty) {
	return wasmtime_linker_define_func_unchecked((wasmtime_linker_t *)linker, "plugbench", 9, "emit", 4,
		(const wasm_functype_t *)ty, pb_emit, NULL, NULL);
}

// pb_error_text takes an error or a trap (deleting it) and returns its
// message, to be freed, and what kind of failure it is.
static inline char *pb_failure(wasmtime_error_t *err, wasm_trap_t *trap, int *trapcode, int *exit) {
	wasm_byte_vec_t msg = {0, NULL};
	uint8_t code;
	*trapcode = -1;
	*exit = -1;
	if (trap != NULL) {
		wasm_trap_message(trap, &msg);
		if (wasmtime_trap_code(trap, &code)) {
			*trapcode = code;
		}
		wasm_trap_delete(trap);
	}
	if (err != NULL) {
		int status;
		wasmtime_error_message(err, &msg);
		if (wasmtime_error_exit_status(err, &status)) {
			*exit = status;
		}
		wasmtime_error_delete(err);
	}
	char *out = malloc(msg.size + 1);
	if (msg.size > 0) {
		memcpy(out, msg.data, msg.size);
	}
	out[msg.size] = 0;
	if (msg.data != NULL) {
		wasm_byte_vec_delete(&msg);
	}
	return out;
}

static inline void pb_take_failure(uintptr_t p, char **msg, int *trapcode, int *exit) {
	pb_inst *in = (pb_inst *)p;
	*msg = pb_failure(in->err, in->trap, trapcode, exit);
	in->err = NULL;
	in->trap = NULL;
}

static inline char *pb_error_text(uintptr_t err) {
	int t, e;
	return pb_failure((wasmtime_error_t *)err, NULL, &t, &e);
}

#endif
