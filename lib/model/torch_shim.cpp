// libtorch behind a C interface. Every entry point runs its body through
// guarded(), which turns c10::Error, std::bad_alloc and any other exception
// into a cerebro_status with the message kept for the user.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "core/core.h"
#include "model/torch_shim.h"

struct cb_torch {
    torch::jit::Module module;
    bool bf16 = false;
    int threads = 1;
};

// Threads, measured in docs/threads.md: libtorch runs fp32 GEMMs on
// OpenBLAS's pthreads and everything else (bf16 GEMMs through oneDNN
// included) on libgomp's team. Unless libgomp waits passively, its idle
// workers spin while OpenBLAS works and both lose. So an fp32 call runs its
// OpenMP part on the calling thread alone and leaves the cores to OpenBLAS's
// pool; a bf16 call (no OpenBLAS) uses the OpenMP team. The setting is the
// calling thread's own and is put back afterwards, so FAISS and the
// caller's other OpenMP work keep theirs.
class ThreadScope {
public:
    explicit ThreadScope(const cb_torch *t)
    {
        const int want = t->bf16 || cb_omp_passive() ? t->threads : 1;
        before_ = cb_omp_hold(want);
        // A thread's first call into libtorch's parallel code sets the
        // thread's count from the process-wide one: let that happen here,
        // not inside the forward pass where it would undo ours.
        (void)at::get_num_threads();
        (void)cb_omp_hold(want);
    }
    ~ThreadScope() { cb_omp_restore(before_); }
    ThreadScope(const ThreadScope &) = delete;
    ThreadScope &operator=(const ThreadScope &) = delete;

private:
    int before_;
};

template <typename Body>
static cerebro_status guarded(const char *what, Body &&body) noexcept
{
    try {
        return body();
    } catch (const c10::Error &e) {
        return cb_fail(CEREBRO_E_MODEL, "%s: %s", what, e.what_without_backtrace());
    } catch (const std::bad_alloc &) {
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        return cb_fail(CEREBRO_E_MODEL, "%s: %s", what, e.what());
    } catch (...) {
        return cb_fail(CEREBRO_E_INTERNAL, "%s: unknown C++ exception", what);
    }
}

static char *copy_string(const std::string &s)
{
    char *p = static_cast<char *>(std::malloc(s.size() + 1));
    if (p) {
        std::memcpy(p, s.data(), s.size());
        p[s.size()] = '\0';
    }
    return p;
}

// torch::jit::load leaves a requested extra file's value untouched when the
// archive lacks it, so a sentinel tells "absent" from "empty".
static const char kAbsent[] = "\x01" "cerebro-absent" "\x01";

// Copies an extra file the archive holds into *data (malloc'd); absent
// leaves it NULL. Returns false when memory ran out.
static bool take_extra(const std::string &v, char **data, size_t *len)
{
    if (v == kAbsent)
        return true;
    if (!(*data = copy_string(v)))
        return false;
    *len = v.size();
    return true;
}

extern "C" cerebro_status cb_torch_load(const char *path, uint32_t n_threads, cb_torch **out,
                                        char **config, char **merges, size_t *merges_len,
                                        char **spm, size_t *spm_len)
{
    *out = nullptr;
    *config = nullptr;
    *merges = nullptr;
    *merges_len = 0;
    *spm = nullptr;
    *spm_len = 0;
    return guarded(path, [&]() -> cerebro_status {
        int threads = n_threads > 0 ? static_cast<int>(n_threads) : 1;
        at::set_num_threads(threads);
        cb_blas_set_threads(threads);
        torch::jit::ExtraFilesMap extra{{"cerebro/config.json", kAbsent},
                                        {"cerebro/merges.txt", kAbsent},
                                        {"cerebro/spm.model", kAbsent}};
        auto t = std::make_unique<cb_torch>();
        t->threads = threads;
        t->module = torch::jit::load(path, torch::kCPU, extra);
        t->module.eval();
        for (const char *m : {"encode_image", "encode_text"}) {
            if (!t->module.find_method(m))
                return cb_fail(CEREBRO_E_FORMAT,
                               "%s: TorchScript archive has no %s method (not a CLIP bundle)", path, m);
        }
        const std::string &cfg = extra["cerebro/config.json"];
        if ((cfg != kAbsent && !(*config = copy_string(cfg))) ||
            !take_extra(extra["cerebro/merges.txt"], merges, merges_len) ||
            !take_extra(extra["cerebro/spm.model"], spm, spm_len)) {
            for (char **p : {config, merges, spm}) {
                std::free(*p);
                *p = nullptr;
            }
            *merges_len = *spm_len = 0;
            return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
        }
        *out = t.release();
        return CEREBRO_OK;
    });
}

extern "C" cerebro_status cb_torch_extra_file(const char *path, const char *name, char **data,
                                              size_t *len)
{
    *data = nullptr;
    *len = 0;
    return guarded(path, [&]() -> cerebro_status {
        torch::jit::ExtraFilesMap extra{{name, kAbsent}};
        // Loading again only to read a file is acceptable: it happens once,
        // for bundles whose tokenizer file has a non-default name.
        torch::jit::load(path, torch::kCPU, extra);
        const std::string &v = extra[name];
        if (v == kAbsent)
            return CEREBRO_OK;
        if (!(*data = copy_string(v)))
            return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", path);
        *len = v.size();
        return CEREBRO_OK;
    });
}

extern "C" cerebro_status cb_torch_to_bf16(cb_torch *t)
{
    return guarded("bfloat16 conversion", [&]() -> cerebro_status {
        t->module.to(torch::kBFloat16);
        t->bf16 = true;
        return CEREBRO_OK;
    });
}

// Runs one method and copies a [n, dim] result into out as float32.
static cerebro_status run(const cb_torch *t, const char *method, torch::Tensor input, size_t n,
                          uint32_t dim, float *out)
{
    c10::InferenceMode guard;
    ThreadScope threads(t);
    auto &module = const_cast<torch::jit::Module &>(t->module);
    if (t->bf16 && input.is_floating_point())
        input = input.to(torch::kBFloat16);
    torch::Tensor y = module.get_method(method)({input}).toTensor();
    if (y.dim() != 2 || static_cast<size_t>(y.size(0)) != n || y.size(1) != dim)
        return cb_fail(CEREBRO_E_MISMATCH, "%s returned shape %s; expected [%zu, %u]", method,
                       c10::str(y.sizes()).c_str(), n, dim);
    y = y.to(torch::kFloat).contiguous();
    std::memcpy(out, y.data_ptr<float>(), n * dim * sizeof(float));
    return CEREBRO_OK;
}

extern "C" cerebro_status cb_torch_encode_image(const cb_torch *t, const float *pixels, size_t n,
                                                uint32_t size, uint32_t dim, float *out)
{
    return guarded("encode_image", [&]() -> cerebro_status {
        auto input = torch::from_blob(const_cast<float *>(pixels),
                                      {static_cast<int64_t>(n), 3, size, size}, torch::kFloat);
        return run(t, "encode_image", input, n, dim, out);
    });
}

extern "C" cerebro_status cb_torch_encode_text(const cb_torch *t, const int64_t *tokens, size_t n,
                                               size_t length, uint32_t dim, float *out)
{
    return guarded("encode_text", [&]() -> cerebro_status {
        auto input = torch::from_blob(const_cast<int64_t *>(tokens),
                                      {static_cast<int64_t>(n), static_cast<int64_t>(length)},
                                      torch::kLong);
        return run(t, "encode_text", input, n, dim, out);
    });
}

extern "C" cerebro_status cb_torch_probe_text_dim(const cb_torch *t, const int64_t *tokens,
                                                  size_t length, uint32_t *dim)
{
    return guarded("encode_text", [&]() -> cerebro_status {
        c10::InferenceMode guard;
        ThreadScope threads(t);
        auto &module = const_cast<torch::jit::Module &>(t->module);
        auto input = torch::from_blob(const_cast<int64_t *>(tokens),
                                      {1, static_cast<int64_t>(length)}, torch::kLong);
        torch::Tensor y = module.get_method("encode_text")({input}).toTensor();
        if (y.dim() != 2 || y.size(0) != 1)
            return cb_fail(CEREBRO_E_MISMATCH, "encode_text returned shape %s for one input",
                           c10::str(y.sizes()).c_str());
        *dim = static_cast<uint32_t>(y.size(1));
        return CEREBRO_OK;
    });
}

extern "C" void cb_torch_free(cb_torch *t)
{
    delete t;
}
