// libtorch behind a C interface. Every entry point runs its body through
// guarded(), which turns c10::Error, std::bad_alloc and any other exception
// into a cerebro_status with the message kept for the user.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "core/core.h"
#include "model/torch_shim.h"

// Threads that encode the parts of split batches (below), started at the
// first split and kept for the model's life: a thread made per part paid
// its first pass into libtorch (thread-local state, oneDNN scratchpads) on
// every batch. A caller runs its first part itself, then any of its parts
// no worker has taken yet, so concurrent callers never queue behind each
// other. After fork() the child's copy has no threads, and libtorch refuses
// new threads in a forked child (its thread pool is invalid there:
// "Invalid thread pool!"), so the child's callers run every part themselves.
class Workers {
public:
    explicit Workers(size_t n) : n_(n), pid_(getpid()) {}
    ~Workers() { stop(); }
    Workers(const Workers &) = delete;
    Workers &operator=(const Workers &) = delete;

    // Calls part(i) for every i in [0, parts), each once; returns when all
    // have returned. part must not throw.
    void run(size_t parts, const std::function<void(size_t)> &part)
    {
        Call call{&part, 1, parts, 0, {}};
        std::unique_lock<std::mutex> lock(mutex_);
        start_locked();
        if (parts > 1) {
            queue_.push_back(&call);
            if (parts > 2)
                work_.notify_all();
            else
                work_.notify_one();
        }
        lock.unlock();
        part(0);
        lock.lock();
        while (call.next < call.parts) {
            size_t i = take_locked(&call);
            lock.unlock();
            part(i);
            lock.lock();
            call.done++;
        }
        call.finished.wait(lock, [&] { return call.done == call.parts - 1; });
    }

private:
    struct Call {
        const std::function<void(size_t)> *part;
        size_t next, parts, done; // parts handed out (0 is the caller's), of them finished
        std::condition_variable finished;
    };

    // The next part of `call`, which is in the queue; drops it from the
    // queue once every part is handed out.
    size_t take_locked(Call *call)
    {
        size_t i = call->next++;
        if (call->next == call->parts)
            queue_.erase(std::find(queue_.begin(), queue_.end(), call));
        return i;
    }

    void start_locked()
    {
        if (pid_ != getpid()) {
            // A fork()ed child (before or after the parent started its
            // workers): theirs do not exist here, and libtorch would fail in
            // new ones.
            (void)threads_.release();
            queue_.clear();
            n_ = 0;
            pid_ = getpid();
        }
        if (threads_)
            return;
        threads_ = std::make_unique<std::vector<std::thread>>();
        for (size_t i = 0; i < n_; i++)
            threads_->emplace_back([this] { loop(); });
    }

    void loop()
    {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_)
                return;
            Call *call = queue_.front();
            size_t i = take_locked(call);
            lock.unlock();
            (*call->part)(i);
            lock.lock();
            if (++call->done == call->parts - 1)
                call->finished.notify_one();
        }
    }

    void stop()
    {
        if (!threads_ || pid_ != getpid()) {
            (void)threads_.release(); // none started, or the parent's
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        work_.notify_all();
        for (auto &t : *threads_)
            t.join();
        threads_.reset();
    }

    size_t n_;
    std::mutex mutex_;
    std::condition_variable work_;
    std::deque<Call *> queue_;
    std::unique_ptr<std::vector<std::thread>> threads_;
    pid_t pid_; // the process whose workers these are
    bool stopping_ = false;
};

// Single texts (search queries): bf16 when libgomp spins for its default
// time (no GOMP_SPINCOUNT or OMP_WAIT_POLICY was set), and fp32, whose GEMMs
// run on OpenBLAS's pool. On an idle machine the team of n_threads (bf16:
// OpenMP; fp32: OpenBLAS) encodes one about 1.5-1.8 times as fast as one
// thread (bench/bench_model.py), on a busy one several times slower (idle
// workers spin away their time slices; fp32 fell to a tenth). So the model
// times both and keeps the faster: the mean of each choice's recent lone calls, with
// the other tried again whenever the calls since its last try took 16 times
// its cost, so that a change of load shows at a bounded price. A
// call while another encode runs in this process takes one thread and is
// not counted. Texts only: a text's embedding does not depend on the thread
// count; a bf16 image's changes in its last bits.
class TeamChoice {
public:
    // 1: use the team of `threads` for this call; 0: one thread.
    bool pick(int threads)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (seen_[0] == 0)
            return false; // one thread first
        // Then the team once: on a busy machine a team call can take a
        // second, so it is not tried twice before it has been compared.
        // After that, try the other choice once the calls since the last
        // try have taken kBudget times what it costs: trying costs at most
        // 1/kBudget of the time however much slower it is (ten times, on a
        // busy machine).
        // Before the team's first call its cost is unknown: one thread's
        // stands in (since_ starts unbounded, so that first try is due at once).
        bool best = seen_[1] != 0 && cost_[1] <= cost_[0];
        double other = seen_[1] == 0 ? cost_[0] : cost_[best ? 0 : 1];
        if (since_ < kBudget * other)
            return best;
        since_ = 0;
        // A try is made only where it could change the choice, judged by a
        // sample of the machine (one read of /proc/loadavg, only when a try
        // is due): the team's when its members would find free CPUs, one
        // thread's when they would not. A team that waits for a CPU waits
        // at every operator for the member the scheduler left out (a second
        // a query, fp32 on this busy machine); while CPUs are free the
        // team's own figure, kept up by its calls, stands. A try not made
        // waits for the next budget; without /proc every try is made. The
        // team's own members are not counted as load: they spin a while
        // after each of its calls (libgomp's or OpenBLAS's wait), so on an
        // idle machine they were the load that sent one thread to a try it
        // lost (bf16 padded text 0.91x PyTorch's, 15 tries of 30 ms in 6 s).
        const int cpus = cb_cpus_free(threads - 1);
        if (cpus != CB_CPUS_UNKNOWN && best == (cpus >= threads - 1))
            return best;
        return !best;
    }
    void record(bool team, double seconds)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        since_ += seconds;
        // A choice's first call also starts its threads and prepares its
        // kernels, so its second call replaces that figure outright.
        double &c = cost_[team ? 1 : 0];
        c = seen_[team ? 1 : 0]++ < 2 ? seconds : c + kWeight * (seconds - c);
    }

private:
    static constexpr double kBudget = 16;
    static constexpr double kWeight = 0.25;
    std::mutex mutex_;
    double cost_[2] = {0, 0};   // seconds per call: one thread, the team
    uint32_t seen_[2] = {0, 0}; // calls recorded of each
    double since_ = std::numeric_limits<double>::infinity(); // seconds of recorded calls since a try was due
};

// Encodes running in this process (all models): a lone call may use the team.
static std::atomic<int> g_encoding{0};

struct cb_torch {
    torch::jit::Module module;
    bool bf16 = false;
    int threads = 1;
    std::unique_ptr<Workers> workers; // threads - 1 of them, when threads > 1
    mutable TeamChoice team;          // single texts (bf16: under libgomp's default spin)
};

// Threads (docs/threads.md has the measurements). libtorch runs fp32 GEMMs
// on OpenBLAS's pthreads and the rest (bf16 GEMMs through oneDNN included)
// on libgomp's team, whose idle workers spin after every parallel region
// unless libgomp was started with a short spin. Spinning workers fight
// OpenBLAS's threads, and on a machine busy with other work they spin away
// their time slices at every barrier. So:
// - a batch of two or more is split into one part per thread, each encoded
//   on its own thread with one OpenMP thread and OpenBLAS held to one
//   thread: nothing spins, nothing synchronises per operator;
// - a single input runs its OpenMP part on the calling thread alone,
//   except bf16 under a short spin and fp32 under a passive policy, which
//   use the team of n_threads (fp32 GEMMs then on OpenBLAS's pool); a
//   single text (bf16 under the default spin, and fp32 whatever the policy)
//   takes the team or one thread, whichever has been faster lately
//   (TeamChoice).
// The OpenMP count is the calling thread's own and is put back afterwards,
// so FAISS and the caller's other OpenMP work keep theirs.
// OpenMP threads for a call on a single input.
static int single_input_threads(const cb_torch *t)
{
    return (t->bf16 ? cb_omp_short_spin() : cb_omp_passive()) ? t->threads : 1;
}

class ThreadScope {
public:
    explicit ThreadScope(int want)
    {
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
        if (threads > 1)
            t->workers = std::make_unique<Workers>(static_cast<size_t>(threads - 1));
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
                          uint32_t dim, float *out, int omp_threads = 0)
{
    c10::InferenceMode guard;
    ThreadScope threads(omp_threads > 0 ? omp_threads : single_input_threads(t));
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

// OpenBLAS at one thread while any split batch runs.
struct BlasHold {
    BlasHold() { cb_blas_hold_one(); }
    ~BlasHold() { cb_blas_release(); }
    BlasHold(const BlasHold &) = delete;
    BlasHold &operator=(const BlasHold &) = delete;
};

// Encodes rows [0, n) of `input` in one part per thread (see the top of
// the file); each part's error comes back to the calling thread.
static cerebro_status run_split(const cb_torch *t, const char *method, const torch::Tensor &input,
                                size_t n, uint32_t dim, float *out)
{
    const size_t parts = std::min<size_t>(static_cast<size_t>(t->threads), n);
    std::vector<cerebro_status> status(parts, CEREBRO_OK);
    std::vector<std::string> message(parts);
    auto part = [&](size_t i) {
        const size_t a = n * i / parts, b = n * (i + 1) / parts;
        status[i] = guarded(method, [&]() -> cerebro_status {
            return run(t, method, input.narrow(0, static_cast<int64_t>(a), static_cast<int64_t>(b - a)),
                       b - a, dim, out + a * dim, 1);
        });
        if (status[i] != CEREBRO_OK)
            message[i] = cerebro_last_error();
    };
    BlasHold blas;
    t->workers->run(parts, part);
    for (size_t i = 0; i < parts; i++)
        if (status[i] != CEREBRO_OK)
            return cb_fail(status[i], "%s", message[i].c_str());
    return CEREBRO_OK;
}

// The whole input on the calling thread: one OpenMP thread, OpenBLAS held
// to one.
static cerebro_status run_alone(const cb_torch *t, const char *method, const torch::Tensor &input,
                                size_t n, uint32_t dim, float *out)
{
    BlasHold blas;
    return run(t, method, input, n, dim, out, 1);
}

// One forward pass, split when the batch and the thread count allow (not
// when the caller asks for its calling thread alone).
static cerebro_status encode(const cb_torch *t, const char *method, const torch::Tensor &input, size_t n,
                             uint32_t dim, float *out, bool alone = false)
{
    struct Count {
        int others = g_encoding.fetch_add(1);
        ~Count() { g_encoding.fetch_sub(1); }
    } count;
    if (alone && t->threads >= 2)
        return run_alone(t, method, input, n, dim, out);
    if (n >= 2 && t->threads >= 2)
        return run_split(t, method, input, n, dim, out);
    // A single text: bf16 under the default spin chooses between the OpenMP
    // team and one thread, fp32 between OpenBLAS's pool and one thread (its
    // threads wait by spinning too: short fp32 queries fell from 61 to 1.6 a
    // second on a busy machine, against 15 on one thread).
    if (t->threads >= 2 && input.scalar_type() == torch::kLong && (!t->bf16 || !cb_omp_short_spin())) {
        const bool lone = count.others == 0; // only lone calls are timed
        bool team = lone && t->team.pick(t->threads);
        auto start = std::chrono::steady_clock::now();
        cerebro_status st = team ? run(t, method, input, n, dim, out, t->bf16 ? t->threads : 0)
                                 : run_alone(t, method, input, n, dim, out);
        if (st == CEREBRO_OK && lone)
            t->team.record(team, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        return st;
    }
    return run(t, method, input, n, dim, out);
}

extern "C" cerebro_status cb_torch_encode_image(const cb_torch *t, const float *pixels, size_t n,
                                                uint32_t size, uint32_t dim, float *out, int alone)
{
    return guarded("encode_image", [&]() -> cerebro_status {
        auto input = torch::from_blob(const_cast<float *>(pixels),
                                      {static_cast<int64_t>(n), 3, size, size}, torch::kFloat);
        return encode(t, "encode_image", input, n, dim, out, alone != 0);
    });
}

extern "C" cerebro_status cb_torch_encode_text(const cb_torch *t, const int64_t *tokens, size_t n,
                                               size_t length, uint32_t dim, float *out)
{
    return guarded("encode_text", [&]() -> cerebro_status {
        auto input = torch::from_blob(const_cast<int64_t *>(tokens),
                                      {static_cast<int64_t>(n), static_cast<int64_t>(length)},
                                      torch::kLong);
        return encode(t, "encode_text", input, n, dim, out);
    });
}

extern "C" cerebro_status cb_torch_probe_text_dim(const cb_torch *t, const int64_t *tokens,
                                                  size_t length, uint32_t *dim)
{
    return guarded("encode_text", [&]() -> cerebro_status {
        c10::InferenceMode guard;
        ThreadScope threads(single_input_threads(t));
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
