/* shim.h: the plain-C surface of libtorch that package torch uses.
 *
 * Rules (docs/architecture.md describes the layers above this one):
 *  - Handles are opaque. A tt_tensor owns one heap at::Tensor; tt_free releases it.
 *  - Every call that can fail returns its status in the same call (code + message).
 *    There is no thread-local "last error": a goroutine may change OS thread between calls.
 *  - Thread-local libtorch state (grad mode) is passed as an argument and set inside the call.
 *  - No C++ exception ever leaves this surface.
 *  - Devices are ints: -1 is the CPU, n >= 0 is CUDA device n.
 *  - DTypes are c10::ScalarType codes.
 */
#ifndef PRSMED_SHIM_H
#define PRSMED_SHIM_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor handle. C++ sees the pointer it is; C (and so Go's cgo) sees the same 64 bits as
 * an integer, which cgo passes without checking it as a pointer into Go memory on every
 * call (a handle never points there). Both have the same size and calling convention on
 * every platform the shim supports (LP64: amd64, arm64). */
#ifdef __cplusplus
typedef struct tt_tensor_s *tt_tensor;
#else
typedef uintptr_t tt_tensor;
#endif
typedef struct tt_gen_s *tt_gen;

/* Status codes. */
enum {
  TT_OK = 0,
  TT_ERR = 1,        /* c10::Error */
  TT_OOM = 2,        /* c10::OutOfMemoryError */
  TT_INDEX = 3,      /* c10::IndexError */
  TT_TYPE = 4,       /* c10::TypeError */
  TT_VALUE = 5,      /* c10::ValueError */
  TT_NOTIMPL = 6,    /* c10::NotImplementedError */
  TT_STD = 7,        /* std::exception */
  TT_UNKNOWN = 8     /* anything else */
};

/* A tensor result: t is NULL when code != TT_OK; msg is malloc'd (free it). */
typedef struct { tt_tensor t; int code; char *msg; } tt_result;
/* Two tensor results (values and indices, for example). */
typedef struct { tt_tensor a; tt_tensor b; int code; char *msg; } tt_result2;
/* A status or a scalar. */
typedef struct { double v; int code; char *msg; } tt_status;

/* ---- library ---- */
const char *tt_version(void);
int tt_cuda_compiled(void);
void tt_set_num_threads(int n);
int tt_get_num_threads(void);
/* tt_retain_host_memory sets glibc malloc's mmap threshold, trim threshold and top pad
   (mallopt); 1: set, 0: mallopt refused a value, -1: not glibc. */
int tt_retain_host_memory(long long mmap_threshold, long long trim_threshold, long long top_pad);
int tt_cuda_available(void);
int tt_cuda_device_count(void);
tt_status tt_cuda_synchronize(int device);
tt_status tt_cuda_memory_allocated(int device);
tt_status tt_cuda_memory_reserved(int device);
tt_status tt_cuda_empty_cache(void);
tt_status tt_manual_seed(uint64_t seed);

/* ---- generators (NULL means libtorch's default generator) ---- */
tt_gen tt_gen_new(uint64_t seed, int device);
void tt_gen_free(tt_gen g);
/* The state of g (NULL: the default generator of device, -1 the CPU) as a uint8 CPU tensor,
   and setting it back (torch.Generator.get_state and set_state). */
tt_result tt_gen_get_state(tt_gen g, int device);
tt_status tt_gen_set_state(tt_gen g, int device, tt_tensor state);

/* ---- tensor lifecycle and queries ---- */
void tt_free(tt_tensor t);
/* Frees n handles in one call (a scope closing). */
void tt_free_many(const tt_tensor *ts, int64_t n);
/* The number of tensor handles made and not yet freed, over all threads. */
int64_t tt_live_tensors(void);
int64_t tt_dim(tt_tensor t);
int64_t tt_sizes(tt_tensor t, int64_t *out, int64_t cap);
int64_t tt_strides(tt_tensor t, int64_t *out, int64_t cap);
int tt_dtype(tt_tensor t);
int tt_device(tt_tensor t);
int64_t tt_numel(tt_tensor t);
int tt_requires_grad(tt_tensor t);
int tt_is_contiguous(tt_tensor t);
int tt_is_leaf(tt_tensor t);
tt_status tt_item(tt_tensor t);
/* Copies the tensor's values (made contiguous, on the CPU) into dst; nbytes must match. */
tt_status tt_copy_out(tt_tensor t, void *dst, int64_t nbytes);

/* ---- creation ---- */
tt_result tt_empty(const int64_t *shape, int64_t n, int dtype, int device);
tt_result tt_full(const int64_t *shape, int64_t n, double v, int dtype, int device);
tt_result tt_arange(double start, double end, double step, int dtype, int device);
tt_result tt_linspace(double start, double end, int64_t steps, int dtype, int device);
/* kind: 0 rand (uniform [0,1)), 1 randn */
tt_result tt_random(int kind, tt_gen g, const int64_t *shape, int64_t n, int dtype, int device);
tt_result tt_randint(tt_gen g, int64_t low, int64_t high, const int64_t *shape, int64_t n, int dtype, int device);
/* Copies a strided view (strides/offset in elements) of nbytes of src_dtype data into a new
 * contiguous tensor of dtype on device, converting on the way (one copy). */
tt_result tt_from_data(const void *data, int64_t nbytes, const int64_t *shape, const int64_t *strides,
                       int64_t n, int64_t offset, int src_dtype, int dtype, int device);

/* ---- elementwise ---- */
enum {
  TT_NEG, TT_EXP, TT_LOG, TT_SQRT, TT_RSQRT, TT_ABS, TT_SIN, TT_COS, TT_RELU, TT_SIGMOID,
  TT_TANH, TT_SILU, TT_GELU, TT_GELU_TANH, TT_CONTIGUOUS, TT_CLONE, TT_FLOOR, TT_CEIL,
  TT_ROUND, TT_SIGN, TT_LOGICAL_NOT, TT_ISNAN, TT_ERF, TT_LOG1P, TT_SQUARE, TT_RECIPROCAL,
  TT_DETACH, TT_ISFINITE, TT_ERFINV, TT_EXPM1
};
tt_result tt_unary(int op, tt_tensor a, int grad);
enum {
  TT_ADD, TT_SUB, TT_MUL, TT_DIV, TT_POW, TT_MAXIMUM, TT_MINIMUM, TT_EQ, TT_NE, TT_LT, TT_LE,
  TT_GT, TT_GE, TT_MATMUL, TT_BMM, TT_LOGICAL_AND, TT_LOGICAL_OR, TT_RSUB, TT_REMAINDER,
  TT_ATAN2, TT_FLOOR_DIVIDE
};
tt_result tt_binary(int op, tt_tensor a, tt_tensor b, int grad);
tt_result tt_binary_scalar(int op, tt_tensor a, double s, int grad);
tt_result tt_where(tt_tensor cond, tt_tensor a, tt_tensor b, int grad);
tt_result tt_clamp(tt_tensor a, double lo, double hi, int has_lo, int has_hi, int grad);
tt_result tt_masked_fill(tt_tensor a, tt_tensor mask, double v, int grad);
tt_result tt_triangle(tt_tensor a, int64_t k, int upper, int grad);
tt_result tt_to(tt_tensor a, int device, int dtype, int copy, int grad);
tt_result tt_addcmul(tt_tensor a, tt_tensor b, tt_tensor c, double value, int grad);

/* ---- reductions (n == 0 dims means all) ---- */
enum { TT_SUM, TT_MEAN, TT_AMAX, TT_AMIN, TT_PROD, TT_LOGSUMEXP, TT_ALL, TT_ANY };
tt_result tt_reduce(int op, tt_tensor a, const int64_t *dims, int64_t n, int keepdim, int grad);
/* op: 0 max, 1 min, 2 sort (keepdim = descending), values and indices */
tt_result2 tt_reduce_dim2(int op, tt_tensor a, int64_t dim, int keepdim, int grad);
tt_result tt_argmax(tt_tensor a, int64_t dim, int has_dim, int keepdim, int argmin);
tt_result tt_var(tt_tensor a, const int64_t *dims, int64_t n, int unbiased, int keepdim, int grad);
tt_result tt_norm(tt_tensor a, double p, const int64_t *dims, int64_t n, int keepdim, int grad);
tt_result tt_cumsum(tt_tensor a, int64_t dim, int grad);
tt_result2 tt_topk(tt_tensor a, int64_t k, int64_t dim, int largest, int sorted, int grad);

/* ---- views and indexing ---- */
/* op: 0 reshape, 1 view, 2 permute, 3 expand, 4 flip */
enum { TT_RESHAPE, TT_VIEW, TT_PERMUTE, TT_EXPAND, TT_FLIP };
tt_result tt_shape_op(int op, tt_tensor a, const int64_t *v, int64_t n, int grad);
tt_result tt_transpose(tt_tensor a, int64_t d0, int64_t d1, int grad);
/* has_dim == 0 squeezes every size-1 dim */
tt_result tt_squeeze(tt_tensor a, int64_t dim, int has_dim, int grad);
tt_result tt_unsqueeze(tt_tensor a, int64_t dim, int grad);
tt_result tt_narrow(tt_tensor a, int64_t dim, int64_t start, int64_t len, int grad);
tt_result tt_slice(tt_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step, int grad);
tt_result tt_select(tt_tensor a, int64_t dim, int64_t index, int grad);
tt_result tt_index_select(tt_tensor a, int64_t dim, tt_tensor idx, int grad);
tt_result tt_gather(tt_tensor a, int64_t dim, tt_tensor idx, int grad);
/* add != 0 gives scatter_add */
tt_result tt_scatter(tt_tensor a, int64_t dim, tt_tensor idx, tt_tensor src, int add, int grad);
tt_result tt_index_put(tt_tensor a, tt_tensor idx, tt_tensor values, int grad);
/* op: 0 cat, 1 stack */
tt_result tt_join(int op, const tt_tensor *ts, int64_t n, int64_t dim, int grad);
/* op: 0 split by size, 1 chunk into arg pieces; writes up to cap handles, returns count in v */
tt_status tt_split(int op, tt_tensor a, int64_t arg, int64_t dim, tt_tensor *out, int64_t cap, int grad);
tt_result tt_roll(tt_tensor a, const int64_t *shifts, int64_t ns, const int64_t *dims, int64_t nd, int grad);
/* mode: 0 constant, 1 reflect, 2 replicate, 3 circular */
tt_result tt_pad(tt_tensor a, const int64_t *pad, int64_t n, int mode, double value, int grad);

/* ---- linear algebra ---- */
tt_result tt_linear(tt_tensor x, tt_tensor w, tt_tensor b, int grad);
tt_result tt_baddbmm(tt_tensor in, tt_tensor b1, tt_tensor b2, double beta, double alpha, int grad);

/* ---- neural network functions ---- */
tt_result tt_conv2d(tt_tensor x, tt_tensor w, tt_tensor b, const int64_t *stride, const int64_t *pad,
                    const int64_t *dil, int64_t groups, int grad);
tt_result tt_conv_transpose2d(tt_tensor x, tt_tensor w, tt_tensor b, const int64_t *stride, const int64_t *pad,
                              const int64_t *outpad, const int64_t *dil, int64_t groups, int grad);
/* op: 0 max, 1 avg */
tt_result tt_pool2d(int op, tt_tensor x, const int64_t *k, const int64_t *stride, const int64_t *pad,
                    const int64_t *dil, int ceil_mode, int count_include_pad, int grad);
tt_result tt_adaptive_avg_pool2d(tt_tensor x, const int64_t *out, int grad);
/* mode: 0 nearest, 1 bilinear, 2 bicubic, 3 nearest-exact; align_corners -1 means unset */
tt_result tt_interpolate(tt_tensor x, const int64_t *size, int mode, int align_corners, int grad);
tt_result tt_layer_norm(tt_tensor x, const int64_t *shape, int64_t n, tt_tensor w, tt_tensor b, double eps, int grad);
tt_result tt_group_norm(tt_tensor x, int64_t groups, tt_tensor w, tt_tensor b, double eps, int grad);
tt_result tt_batch_norm(tt_tensor x, tt_tensor w, tt_tensor b, tt_tensor rmean, tt_tensor rvar, int training,
                        double momentum, double eps, int grad);
tt_result tt_instance_norm(tt_tensor x, tt_tensor w, tt_tensor b, tt_tensor rmean, tt_tensor rvar,
                           int use_input_stats, double momentum, double eps, int grad);
tt_result tt_embedding(tt_tensor w, tt_tensor idx, int64_t padding_idx, int grad);
/* op: 0 softmax, 1 log_softmax */
tt_result tt_softmax(int op, tt_tensor x, int64_t dim, int grad);
tt_result tt_dropout(tt_tensor x, double p, int train, tt_gen g, int grad);
/* mask may be NULL; scale <= 0 means 1/sqrt(head dim) */
tt_result tt_sdpa(tt_tensor q, tt_tensor k, tt_tensor v, tt_tensor mask, double dropout, int causal,
                  double scale, tt_gen g, int grad);
tt_result tt_multinomial(tt_tensor probs, int64_t n, int replacement, tt_gen g);
tt_result tt_one_hot(tt_tensor idx, int64_t n);
/* reduction: 0 none, 1 mean, 2 sum */
tt_result tt_bce_with_logits(tt_tensor x, tt_tensor y, tt_tensor weight, tt_tensor pos_weight, int reduction, int grad);
tt_result tt_cross_entropy(tt_tensor logits, tt_tensor target, tt_tensor weight, int reduction,
                           int64_t ignore_index, double label_smoothing, int grad);
tt_result tt_mse(tt_tensor x, tt_tensor y, int reduction, int grad);

/* ---- autograd ---- */
tt_status tt_set_requires_grad(tt_tensor t, int flag);
tt_status tt_backward(tt_tensor t, tt_tensor g, int retain_graph);
/* t is NULL in the result when the tensor has no gradient */
tt_result tt_grad(tt_tensor t);
tt_status tt_zero_grad(tt_tensor t, int set_to_none);
tt_status tt_clip_grad_norm(const tt_tensor *ts, int64_t n, double max_norm, double norm_type);

/* ---- in place (always without autograd recording) ---- */
tt_status tt_copy_(tt_tensor dst, tt_tensor src);
tt_status tt_fill_(tt_tensor t, double v);
/* Makes dst use src's storage, shape and dtype (PyTorch's `param.data = src`). */
tt_status tt_set_data(tt_tensor dst, tt_tensor src);
/* kind: 0 uniform(a, b), 1 normal(mean a, std b) */
tt_status tt_random_(tt_tensor t, int kind, double a, double b, tt_gen g);

/* ---- optimizers (PyTorch 1.13 single-tensor numerics); v is 1 when the parameter had a
 * gradient and was updated, 0 otherwise ---- */
tt_status tt_adamw_step(tt_tensor p, tt_tensor exp_avg, tt_tensor exp_avg_sq, int64_t step, double lr,
                        double beta1, double beta2, double eps, double weight_decay);
tt_status tt_sgd_step(tt_tensor p, tt_tensor buf, int first, double lr, double momentum, double dampening,
                      double weight_decay, int nesterov);

/* ---- per-call mode: the `grad` argument of every op is a flags word ----
 * bit 0 records autograd history; bits 1 and 2 run the call under CPU or CUDA autocast
 * (libtorch's automatic mixed precision, cast cache off) to the dtype in bits 8..15 (a
 * c10::ScalarType code: bfloat16 or float16). 0 and 1 keep their old meaning. */
enum { TT_MODE_GRAD = 1, TT_MODE_AUTOCAST_CPU = 2, TT_MODE_AUTOCAST_CUDA = 4, TT_MODE_DTYPE_SHIFT = 8 };
/* Reports the mode a call with these flags would see inside it (the flags word back), or an
 * error when the flags are invalid: a check that the guard sets and restores the state. */
tt_status tt_mode_probe(int flags);
// tt_set_thread_num_threads sets the calling OS thread's own intra-op thread count (0: the
// process-wide count).
void tt_set_thread_num_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
