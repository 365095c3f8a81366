// FAISS (Debian's static libfaiss 1.7.3) behind lib/index/ann.h. Every
// entry point runs its body through guarded(), which turns FaissException,
// std::bad_alloc and any other exception into a cerebro_status with FAISS's
// message kept for the user.
//
// A structure is described by "<factory>|<search parameters>", e.g.
// "IVF2048,Flat|nprobe=24": the factory string goes to faiss::index_factory,
// the parameters (ParameterSpace syntax) are applied after construction and
// the whole description is stored with the index file.
//
// Ids: IVF structures keep the store's ids in their inverted lists; every
// other structure is wrapped in an IndexIDMap2. FAISS 1.7.3's IndexIDMap
// refuses SearchParameters, so filtered searches go to the wrapped index with
// a selector that translates its positions to ids (what FAISS 1.7.4 later
// added as IDSelectorTranslated).
#include <faiss/AutoTune.h>
#include <faiss/IVFlib.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/core.h"
#include "index/ann.h"

using idx_t = faiss::Index::idx_t;

struct cb_ann {
    std::unique_ptr<faiss::Index> index;
    std::string structure;
    faiss::IndexIDMap2 *idmap = nullptr; // set when we map ids around `index`'s positions
    faiss::IndexIVF *ivf = nullptr;
    faiss::IndexHNSW *hnsw = nullptr;
};

namespace {

// Collections below this size get exact search (DESIGN.md, "Store").
constexpr uint64_t kExactLimit = 100000;
// Training uses at most max(kTrainMin, kTrainPerList * nlist) vectors.
constexpr size_t kTrainMin = 100000;
constexpr size_t kTrainPerList = 64;
// Bytes per vector beyond its code: IndexIDMap2 keeps the id twice (vector
// and hash map node, ~48 bytes); IVF lists keep it once.
constexpr uint64_t kIdMapBytes = 48;
constexpr uint64_t kIvfIdBytes = 8;
// File trailer: structure string, then this fixed part, then the magic.
constexpr char kMagic[8] = {'C', 'B', 'A', 'N', 'N', '0', '0', '1'};
constexpr uint32_t kMaxStructure = 4096;

// Strips FAISS's "Error in <function> at <file>:<line>: " prefix.
std::string faiss_message(const faiss::FaissException &e)
{
    const std::string &m = e.msg;
    size_t at = m.rfind(".cpp:");
    if (at == std::string::npos)
        at = m.rfind(".h:");
    if (m.compare(0, 9, "Error in ") == 0 && at != std::string::npos) {
        size_t colon = m.find(": ", at + 3);
        if (colon != std::string::npos)
            return m.substr(colon + 2);
    }
    return m;
}

// FAISS errors map to `status` (E_INVALID while parsing a factory string,
// E_CORRUPT while reading, E_STORE otherwise).
template <typename Body>
cerebro_status guarded(const char *what, cerebro_status status, Body &&body) noexcept
{
    try {
        return body();
    } catch (const faiss::FaissException &e) {
        return cb_fail(status, "%s: %s", what, faiss_message(e).c_str());
    } catch (const std::bad_alloc &) {
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        return cb_fail(status, "%s: %s", what, e.what());
    } catch (...) {
        return cb_fail(CEREBRO_E_INTERNAL, "%s: unknown C++ exception", what);
    }
}

// IVF sizing, measured on 1M x 512 clustered vectors (bench/bench_ann.c).
// A single query costs about nlist centroid products plus nprobe * n/nlist
// list vectors, both read from memory (2 KiB each at 512-d): about 2*sqrt(n)
// lists (a power of two) with ~2048 list vectors scanned balances the two.
// 1M vectors: IVF2048, nprobe 4, recall@10 0.9998 on held-out queries
// (nprobe 2: 0.978), ~4k products per query.
constexpr double kScannedPerQuery = 2048;

uint32_t nlist_for(uint64_t n)
{
    double target = 2.0 * std::sqrt(static_cast<double>(n));
    uint32_t nlist = 64;
    while (nlist < 65536 && nlist * 1.5 < target)
        nlist *= 2;
    return nlist;
}

uint32_t nprobe_for(size_t nlist, uint64_t n)
{
    double lists = std::round(kScannedPerQuery * static_cast<double>(nlist) / static_cast<double>(std::max<uint64_t>(n, 1)));
    return static_cast<uint32_t>(std::min<double>(std::max(lists, 4.0), static_cast<double>(nlist)));
}

// HNSW only runs when a factory string asks for it; FAISS's default
// efSearch of 16 gives poor recall on 512-d vectors.
constexpr int kEfSearch = 128;

// The largest PQ code (bytes per vector, sub-vectors of 4 to 64 dimensions)
// whose memory fits, else the smallest; 0 when no such split of dim exists.
uint32_t pq_bytes_for(uint32_t dim, uint64_t per_vector_budget)
{
    uint32_t best = 0;
    for (uint32_t div : {4u, 8u, 16u, 32u, 64u}) {
        if (dim % div)
            continue;
        uint32_t m = dim / div;
        if (m == 0)
            continue;
        best = m;
        if (m <= per_vector_budget)
            return m;
    }
    return best;
}

// Which structure the index has inside its id mapping.
void classify(cb_ann &a)
{
    faiss::Index *inner = a.index.get();
    a.idmap = dynamic_cast<faiss::IndexIDMap2 *>(inner);
    if (a.idmap)
        inner = a.idmap->index;
    a.ivf = faiss::ivflib::try_extract_index_ivf(inner);
    a.hnsw = dynamic_cast<faiss::IndexHNSW *>(inner);
}

// Training settings. FAISS's k-means warns on stderr below 39 training
// vectors per centroid: a library must not write to stderr, and a small
// collection is no error. index_factory turns on polysemous training for PQ
// codes, which only serves Hamming-filtered search (unused here) and took
// minutes for 2000 vectors with Debian's generic (no POPCNT) build.
void configure_training(cb_ann &a)
{
    if (a.ivf)
        a.ivf->cp.min_points_per_centroid = 1;
    if (auto ivfpq = dynamic_cast<faiss::IndexIVFPQ *>(a.ivf)) {
        ivfpq->pq.cp.min_points_per_centroid = 1;
        ivfpq->do_polysemous_training = false;
    }
    if (auto pq = dynamic_cast<faiss::IndexPQ *>(a.idmap ? a.idmap->index : a.index.get())) {
        pq->pq.cp.min_points_per_centroid = 1;
        pq->do_polysemous_training = false;
    }
}

// Splits "<factory>|<params>".
void split_structure(const std::string &s, std::string &factory, std::string &params)
{
    size_t bar = s.find('|');
    factory = s.substr(0, bar);
    params = bar == std::string::npos ? std::string() : s.substr(bar + 1);
}

// Applies the search parameters of the description; when it names none,
// chooses them for n vectors and appends them, so the description says
// what runs (and cb_ann_read restores it).
void apply_parameters(cb_ann &a, uint64_t n)
{
    std::string factory, params;
    split_structure(a.structure, factory, params);
    if (params.empty()) {
        char buf[64] = "";
        if (a.ivf)
            std::snprintf(buf, sizeof buf, "nprobe=%u", nprobe_for(a.ivf->nlist, n));
        else if (a.hnsw)
            std::snprintf(buf, sizeof buf, "efSearch=%d", kEfSearch);
        params = buf;
        if (!params.empty())
            a.structure = factory + "|" + params;
    }
    if (!params.empty())
        faiss::ParameterSpace().set_index_parameters(a.index.get(), params.c_str());
}

// Membership in a caller's filter: a bitmap over [lo, hi] when the ids are
// dense enough (store row ids usually are), else FAISS's hash set.
struct FilterSelector final : faiss::IDSelector {
    int64_t lo = 0, hi = -1;
    std::vector<uint64_t> bits;
    std::unique_ptr<faiss::IDSelectorBatch> batch;

    explicit FilterSelector(const cb_ann_filter &f)
    {
        if (f.n == 0)
            return;
        auto mm = std::minmax_element(f.ids, f.ids + f.n);
        lo = *mm.first;
        hi = *mm.second;
        uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
        if (span < std::max<uint64_t>(64 * static_cast<uint64_t>(f.n), 1u << 23)) {
            bits.assign(span / 64 + 1, 0);
            for (size_t i = 0; i < f.n; i++) {
                uint64_t o = static_cast<uint64_t>(f.ids[i]) - static_cast<uint64_t>(lo);
                bits[o >> 6] |= uint64_t{1} << (o & 63);
            }
        } else {
            batch.reset(new faiss::IDSelectorBatch(f.n, f.ids));
        }
    }

    bool is_member(idx_t id) const override
    {
        if (batch)
            return batch->is_member(id);
        if (id < lo || id > hi)
            return false;
        uint64_t o = static_cast<uint64_t>(id) - static_cast<uint64_t>(lo);
        return bits[o >> 6] >> (o & 63) & 1;
    }
};

// A position in the wrapped index is a member when its id is.
struct TranslatedSelector final : faiss::IDSelector {
    const std::vector<idx_t> &id_map;
    const faiss::IDSelector &sel;
    TranslatedSelector(const std::vector<idx_t> &m, const faiss::IDSelector &s) : id_map(m), sel(s) {}
    bool is_member(idx_t i) const override
    {
        return i >= 0 && static_cast<size_t>(i) < id_map.size() && sel.is_member(id_map[i]);
    }
};

// Top-k over the allowed ids alone, by distance computer: for structures
// whose own filtered search cannot be widened. FAISS 1.7.3's IndexHNSW
// honours SearchParameters::sel but ignores SearchParametersHNSW::efSearch,
// and its efSearch member is shared by concurrent searches, so under a
// selective filter its walk meets too few allowed vectors. Scanning them is
// exact, and cheaper than the walk while they are few.
void search_allowed(const cb_ann &a, size_t nq, const float *q, size_t k, const cb_ann_filter &f,
                    float *scores, int64_t *labels)
{
    std::vector<idx_t> pos, id;
    for (size_t i = 0; i < f.n; i++) {
        auto it = a.idmap->rev_map.find(f.ids[i]);
        if (it != a.idmap->rev_map.end()) {
            pos.push_back(it->second);
            id.push_back(f.ids[i]);
        }
    }
    const faiss::Index *codes = a.hnsw ? a.hnsw->storage : a.idmap->index;
    std::unique_ptr<faiss::DistanceComputer> dc(codes->get_distance_computer());
    const size_t d = static_cast<size_t>(a.index->d);
    for (size_t i = 0; i < nq; i++) {
        float *s = scores + i * k;
        int64_t *l = labels + i * k;
        faiss::minheap_heapify(k, s, l);
        dc->set_query(q + i * d);
        for (size_t j = 0; j < pos.size(); j++) {
            float v = (*dc)(pos[j]);
            if (v > s[0])
                faiss::minheap_replace_top(k, s, l, v, id[j]);
        }
        faiss::minheap_reorder(k, s, l);
    }
}

// Results from the structure under an IndexIDMap2 carry positions; the
// caller wants the ids (-1, "no result", stays).
void positions_to_ids(const cb_ann &a, int64_t *labels, size_t n)
{
    if (!a.idmap)
        return;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0)
            labels[i] = a.idmap->id_map[static_cast<size_t>(labels[i])];
}

// One filtered search, inside FAISS through an IDSelector where the
// structure supports it. IVF visits about as many allowed candidates as an
// unfiltered search would: a selective filter raises nprobe by the inverse of
// its selectivity (up to every list) instead of returning fewer hits than
// exist.
void search_filtered(const cb_ann &a, size_t nq, const float *q, size_t k, const cb_ann_filter &f,
                     float *scores, int64_t *labels)
{
    const faiss::Index *target = a.idmap ? a.idmap->index : a.index.get();
    const double selectivity = static_cast<double>(f.n) / static_cast<double>(std::max<idx_t>(a.index->ntotal, 1));
    if (a.idmap && a.hnsw && target == a.hnsw && selectivity * a.hnsw->hnsw.efSearch < 2.0 * static_cast<double>(k)) {
        search_allowed(a, nq, q, k, f, scores, labels);
        return;
    }
    FilterSelector allowed(f);
    std::unique_ptr<TranslatedSelector> translated;
    const faiss::IDSelector *sel = &allowed;
    if (a.idmap) {
        translated.reset(new TranslatedSelector(a.idmap->id_map, allowed));
        sel = translated.get();
    }
    faiss::SearchParametersIVF ivf;
    faiss::SearchParametersHNSW hnsw;
    faiss::SearchParameters plain;
    faiss::SearchParameters *params = &plain;
    if (a.ivf && target == a.ivf) {
        double nprobe = std::ceil(static_cast<double>(a.ivf->nprobe) / std::max(selectivity, 1e-12));
        ivf.nprobe = static_cast<size_t>(std::min(nprobe, static_cast<double>(a.ivf->nlist)));
        params = &ivf;
    } else if (a.hnsw && target == a.hnsw) {
        hnsw.efSearch = a.hnsw->hnsw.efSearch;
        params = &hnsw;
    } else if (a.idmap && !dynamic_cast<const faiss::IndexFlat *>(target)) {
        // Compressed flat codes (SQ, PQ): FAISS would scan every code.
        search_allowed(a, nq, q, k, f, scores, labels);
        return;
    }
    params->sel = const_cast<faiss::IDSelector *>(sel);
    target->search(static_cast<idx_t>(nq), q, static_cast<idx_t>(k), scores, labels, params);
    positions_to_ids(a, labels, nq * k);
}

// Approximate bytes held by an index and what it wraps: codes, ids, graph
// links, centroids and transforms (vector sizes, not capacities: growth
// slack of large vectors is mostly untouched, non-resident memory).
uint64_t memory_of(const faiss::Index *index)
{
    if (!index)
        return 0;
    if (auto m = dynamic_cast<const faiss::IndexIDMap2 *>(index))
        return memory_of(m->index) + m->id_map.size() * sizeof(idx_t) + m->rev_map.size() * 32 +
               m->rev_map.bucket_count() * sizeof(void *);
    if (auto m = dynamic_cast<const faiss::IndexIDMap *>(index))
        return memory_of(m->index) + m->id_map.size() * sizeof(idx_t);
    if (auto p = dynamic_cast<const faiss::IndexPreTransform *>(index)) {
        uint64_t bytes = memory_of(p->index);
        for (const faiss::VectorTransform *vt : p->chain)
            bytes += static_cast<uint64_t>(vt->d_in) * vt->d_out * sizeof(float);
        return bytes;
    }
    if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(index)) {
        uint64_t entries = ivf->invlists ? ivf->invlists->compute_ntotal() : 0;
        return memory_of(ivf->quantizer) + entries * (ivf->code_size + sizeof(idx_t));
    }
    if (auto h = dynamic_cast<const faiss::IndexHNSW *>(index))
        return memory_of(h->storage) + h->hnsw.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t) +
               h->hnsw.levels.size() * sizeof(int) + h->hnsw.offsets.size() * sizeof(size_t);
    if (auto fc = dynamic_cast<const faiss::IndexFlatCodes *>(index))
        return fc->codes.size();
    return static_cast<uint64_t>(index->ntotal) * index->sa_code_size();
}

// A 64-bit checksum of the FAISS payload in an index file (xxHash64's
// round function over 32-byte stripes): detects truncation and damage
// before FAISS parses sizes out of garbage.
struct Checksum {
    static constexpr uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full,
                              P3 = 0x165667B19E3779F9ull;
    uint64_t lane[4] = {P1 + P2, P2, 0, 0 - P1};
    unsigned char pending[32];
    size_t npending = 0;
    uint64_t total = 0;

    static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

    void stripe(const unsigned char *p)
    {
        for (int i = 0; i < 4; i++) {
            uint64_t w;
            std::memcpy(&w, p + 8 * i, 8);
            lane[i] = rotl(lane[i] + w * P2, 31) * P1;
        }
    }

    void update(const void *data, size_t n)
    {
        if (n == 0)
            return;
        auto p = static_cast<const unsigned char *>(data);
        total += n;
        if (npending) {
            size_t take = std::min(n, sizeof pending - npending);
            std::memcpy(pending + npending, p, take);
            npending += take;
            p += take;
            n -= take;
            if (npending < sizeof pending)
                return;
            stripe(pending);
            npending = 0;
        }
        for (; n >= 32; p += 32, n -= 32)
            stripe(p);
        std::memcpy(pending, p, n);
        npending = n;
    }

    uint64_t digest() const
    {
        uint64_t h = rotl(lane[0], 1) + rotl(lane[1], 7) + rotl(lane[2], 12) + rotl(lane[3], 18) + total;
        for (size_t i = 0; i < npending; i++)
            h = rotl(h ^ (pending[i] * P3), 11) * P1;
        h ^= h >> 33;
        h *= P2;
        h ^= h >> 29;
        h *= P3;
        return h ^ (h >> 32);
    }
};

struct Trailer {
    uint64_t payload_bytes;
    uint64_t checksum;
    uint32_t structure_bytes;
    uint32_t version;
    char magic[8];
};

// Keeps the errno of a short write: FAISS turns it into an exception whose
// text says only "write error", and a full disk must say so.
struct ChecksumWriter final : faiss::IOWriter {
    FILE *f;
    Checksum sum;
    uint64_t bytes = 0;
    int error = 0;
    explicit ChecksumWriter(FILE *file) : f(file) {}
    size_t operator()(const void *ptr, size_t size, size_t nitems) override
    {
        if (size == 0 || nitems == 0) // FAISS writes empty vectors as (nullptr, 0)
            return nitems;
        errno = 0;
        size_t done = std::fwrite(ptr, size, nitems, f);
        if (done < nitems && !error)
            error = errno ? errno : EIO;
        sum.update(ptr, size * done);
        bytes += size * done;
        return done;
    }
};

// Reads at most `left` bytes, so FAISS never reads into the trailer.
struct BoundedReader final : faiss::IOReader {
    FILE *f;
    uint64_t left;
    BoundedReader(FILE *file, uint64_t bytes) : f(file), left(bytes) {}
    size_t operator()(void *ptr, size_t size, size_t nitems) override
    {
        if (size == 0 || nitems == 0)
            return nitems;
        size_t n = std::min<uint64_t>(nitems, left / size);
        size_t done = std::fread(ptr, size, n, f);
        left -= size * done;
        return done;
    }
};

struct FileCloser {
    void operator()(FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

cerebro_status fsync_parent(const std::string &path)
{
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cb_fail(CEREBRO_E_IO, "%s: cannot open directory: %s", dir.c_str(), std::strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0)
        return cb_fail(CEREBRO_E_IO, "%s: fsync: %s", dir.c_str(), std::strerror(err));
    return CEREBRO_OK;
}

// Writes payload + trailer to an open temporary file and makes it durable.
cerebro_status write_file(const cb_ann &a, FILE *f, const char *tmp)
{
    ChecksumWriter w(f);
    try {
        faiss::write_index(a.index.get(), &w);
    } catch (const faiss::FaissException &) {
        if (!w.error)
            throw;
        return cb_fail(CEREBRO_E_IO, "%s: write failed: %s", tmp, std::strerror(w.error));
    }
    Trailer t{};
    t.payload_bytes = w.bytes;
    t.checksum = w.sum.digest();
    t.structure_bytes = static_cast<uint32_t>(a.structure.size());
    t.version = 1;
    std::memcpy(t.magic, kMagic, sizeof kMagic);
    errno = 0;
    if (std::fwrite(a.structure.data(), 1, a.structure.size(), f) != a.structure.size() ||
        std::fwrite(&t, sizeof t, 1, f) != 1 || std::fflush(f) != 0)
        return cb_fail(CEREBRO_E_IO, "%s: write failed: %s", tmp, std::strerror(errno ? errno : EIO));
    if (fsync(fileno(f)) != 0)
        return cb_fail(CEREBRO_E_IO, "%s: fsync: %s", tmp, std::strerror(errno));
    return CEREBRO_OK;
}

// Checks the trailer and the payload checksum; leaves f at offset 0.
cerebro_status check_file(FILE *f, const char *path, Trailer &t, std::string &structure)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return cb_fail(CEREBRO_E_IO, "%s: %s", path, std::strerror(errno));
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < sizeof t || std::fseek(f, -static_cast<long>(sizeof t), SEEK_END) != 0 ||
        std::fread(&t, sizeof t, 1, f) != 1 || std::memcmp(t.magic, kMagic, sizeof kMagic) != 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: not a libcerebro ANN index (no trailer; truncated?)", path);
    if (t.version != 1)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: ANN index format version %" PRIu32 " is not supported", path,
                       t.version);
    if (t.structure_bytes > kMaxStructure || t.payload_bytes > size ||
        t.payload_bytes + t.structure_bytes + sizeof t != size)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: ANN index sizes do not match the file size %" PRIu64, path, size);
    structure.resize(t.structure_bytes);
    if (std::fseek(f, static_cast<long>(t.payload_bytes), SEEK_SET) != 0 ||
        std::fread(&structure[0], 1, structure.size(), f) != structure.size())
        return cb_fail(CEREBRO_E_IO, "%s: read failed", path);
    Checksum sum;
    std::vector<unsigned char> buf(1 << 20);
    std::rewind(f);
    for (uint64_t left = t.payload_bytes; left > 0;) {
        size_t n = std::fread(buf.data(), 1, std::min<uint64_t>(left, buf.size()), f);
        if (n == 0)
            return cb_fail(CEREBRO_E_IO, "%s: read failed", path);
        sum.update(buf.data(), n);
        left -= n;
    }
    if (sum.digest() != t.checksum)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: ANN index checksum mismatch (damaged file)", path);
    std::rewind(f);
    return CEREBRO_OK;
}

// Lays rows of kk results out with stride k (in place, from the last row)
// and marks what is missing with id -1 and the lowest score.
void spread_rows(float *scores, int64_t *ids, size_t nq, size_t kk, size_t k)
{
    for (size_t i = nq; i-- > 0;) {
        if (kk < k) {
            std::memmove(scores + i * k, scores + i * kk, kk * sizeof *scores);
            std::memmove(ids + i * k, ids + i * kk, kk * sizeof *ids);
        }
        for (size_t j = 0; j < k; j++) {
            if (j >= kk)
                ids[i * k + j] = -1;
            if (ids[i * k + j] < 0)
                scores[i * k + j] = -FLT_MAX;
        }
    }
}

} // namespace

// "PQ{m}x8", or "SQ4" (half a byte per dimension) when dim has no PQ split.
static void compressed_codes(uint32_t dim, uint64_t bytes, char *buf, size_t cap)
{
    uint32_t m = pq_bytes_for(dim, bytes);
    if (m)
        std::snprintf(buf, cap, "PQ%ux8", m);
    else
        std::snprintf(buf, cap, "SQ4");
}

extern "C" void cb_ann_choose(uint64_t n, uint32_t dim, uint64_t memory_budget, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return;
    uint64_t per_vector = memory_budget == 0 || n == 0 ? UINT64_MAX : memory_budget / n;
    char codes[32];
    if (n < kExactLimit) {
        compressed_codes(dim, per_vector > kIdMapBytes ? per_vector - kIdMapBytes : 0, codes, sizeof codes);
        if (per_vector >= 4ull * dim + kIdMapBytes)
            std::snprintf(buf, cap, "Flat");
        else if (per_vector >= dim + kIdMapBytes)
            std::snprintf(buf, cap, "SQ8");
        else
            std::snprintf(buf, cap, "%s", codes);
        return;
    }
    uint32_t nlist = nlist_for(n);
    uint64_t fixed = kIvfIdBytes + 4ull * dim * nlist / n; // id + share of the centroids
    uint64_t room = per_vector > fixed ? per_vector - fixed : 0;
    compressed_codes(dim, room, codes, sizeof codes);
    std::snprintf(buf, cap, "IVF%u,%s|nprobe=%u", nlist,
                  room >= 4ull * dim ? "Flat" : room >= dim ? "SQ8" : codes, nprobe_for(nlist, n));
}

extern "C" cerebro_status cb_ann_build(uint32_t dim, const char *factory, uint64_t memory_budget,
                                       const float *x, const int64_t *ids, size_t n, cb_ann **out)
{
    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_build: out is NULL");
    *out = nullptr;
    if (dim == 0 || dim > 65536)
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_build: dimension %u out of range [1, 65536]", dim);
    if (n > 0 && (!x || !ids))
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_build: vectors or ids are NULL");
    char chosen[128];
    if (!factory) {
        cb_ann_choose(n, dim, memory_budget, chosen, sizeof chosen);
        factory = chosen;
    }
    if (std::strlen(factory) > kMaxStructure)
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_build: factory string longer than %u bytes", kMaxStructure);
    std::unique_ptr<cb_ann> a;
    cerebro_status st = guarded(factory, CEREBRO_E_INVALID, [&]() -> cerebro_status {
        a.reset(new cb_ann);
        a->structure = factory;
        std::string desc, params;
        split_structure(a->structure, desc, params);
        std::unique_ptr<faiss::Index> index(
            faiss::index_factory(static_cast<int>(dim), desc.c_str(), faiss::METRIC_INNER_PRODUCT));
        auto plain_map = dynamic_cast<faiss::IndexIDMap *>(index.get());
        if (plain_map && !dynamic_cast<faiss::IndexIDMap2 *>(plain_map)) {
            // "IDMap,..." keeps no reverse map: we need one, so re-wrap.
            std::unique_ptr<faiss::Index> inner(plain_map->index);
            plain_map->own_fields = false;
            index = std::move(inner);
        }
        if (!faiss::ivflib::try_extract_index_ivf(index.get()) && !dynamic_cast<faiss::IndexIDMap2 *>(index.get())) {
            auto map = new faiss::IndexIDMap2(index.get());
            map->own_fields = true;
            index.release();
            index.reset(map);
        }
        a->index = std::move(index);
        classify(*a);
        configure_training(*a);
        apply_parameters(*a, n);
        return CEREBRO_OK;
    });
    if (st != CEREBRO_OK)
        return st;
    st = guarded(factory, CEREBRO_E_INVALID, [&]() -> cerebro_status {
        if (a->index->is_trained)
            return CEREBRO_OK;
        if (n == 0)
            return cb_fail(CEREBRO_E_INVALID, "%s: the structure needs training vectors", factory);
        size_t cap = std::max(kTrainMin, kTrainPerList * (a->ivf ? a->ivf->nlist : 0));
        size_t m = std::min(n, cap);
        if (m == n) {
            a->index->train(static_cast<idx_t>(n), x);
            return CEREBRO_OK;
        }
        // An evenly strided sample: stores add files folder by folder, so
        // a prefix would see only the first folders.
        std::vector<float> sample(m * dim);
        for (size_t i = 0; i < m; i++)
            std::memcpy(&sample[i * dim], x + (i * n / m) * dim, dim * sizeof(float));
        a->index->train(static_cast<idx_t>(m), sample.data());
        return CEREBRO_OK;
    });
    if (st != CEREBRO_OK)
        return st;
    if (n > 0 && (st = cb_ann_add(a.get(), x, ids, n)) != CEREBRO_OK)
        return st;
    *out = a.release();
    return CEREBRO_OK;
}

extern "C" cerebro_status cb_ann_add(cb_ann *ann, const float *x, const int64_t *ids, size_t n)
{
    if (!ann || (n > 0 && (!x || !ids)))
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_add: NULL argument");
    if (n == 0)
        return CEREBRO_OK;
    return guarded("ANN add", CEREBRO_E_STORE, [&]() -> cerebro_status {
        ann->index->add_with_ids(static_cast<idx_t>(n), x, ids);
        return CEREBRO_OK;
    });
}

extern "C" cerebro_status cb_ann_remove(cb_ann *ann, const int64_t *ids, size_t n, size_t *removed)
{
    if (removed)
        *removed = 0;
    if (!ann || (n > 0 && !ids))
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_remove: NULL argument");
    bool can = ann->ivf || (ann->idmap && dynamic_cast<faiss::IndexFlatCodes *>(ann->idmap->index));
    if (!can)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: this structure cannot remove vectors; rebuild it",
                       ann->structure.c_str());
    if (n == 0)
        return CEREBRO_OK;
    return guarded("ANN remove", CEREBRO_E_STORE, [&]() -> cerebro_status {
        faiss::IDSelectorBatch sel(n, ids);
        size_t r = ann->index->remove_ids(sel);
        if (removed)
            *removed = r;
        return CEREBRO_OK;
    });
}

namespace {

// A search-as-you-type request scores one query against every vector.
// Through FAISS that is a GEMM with a one-row operand: OpenBLAS repacks each
// 1024-vector block of the database for it (a third of a busy server's CPU
// time, measured) and FAISS allocates a 4096 x 1024 float scratch block per
// call. For up to kScanQueries unfiltered queries on an exact inner-product
// index the shim scans the vectors itself: one pass over the database per
// query, on the calling thread. Not BLAS's sgemv: OpenBLAS runs it on its
// own threads, and a server's concurrent searches then contended so badly
// that it answered 2.5 times fewer requests (bench/bench_server.sh).
constexpr size_t kScanQueries = 8;

// Eight independent partial sums: the compiler keeps them in SIMD lanes
// without reassociating one sum (no -ffast-math needed).
float inner_product(const float *x, const float *q, size_t d)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= d; j += 8)
        for (size_t k = 0; k < 8; k++)
            acc[k] += x[j + k] * q[j + k];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < d; j++)
        s += x[j] * q[j];
    return s;
}

bool search_flat_scan(const cb_ann &a, size_t nq, const float *q, size_t k, float *scores, int64_t *labels)
{
    const faiss::Index *target = a.idmap ? a.idmap->index : a.index.get();
    const auto *flat = dynamic_cast<const faiss::IndexFlat *>(target);
    if (!flat || flat->metric_type != faiss::METRIC_INNER_PRODUCT || nq > kScanQueries)
        return false;
    const size_t n = static_cast<size_t>(flat->ntotal), d = static_cast<size_t>(flat->d);
    const float *xb = flat->get_xb();
    for (size_t i = 0; i < nq; i++) {
        float *s = scores + i * k;
        int64_t *l = labels + i * k;
        faiss::minheap_heapify(k, s, l);
        for (size_t r = 0; r < n; r++) {
            const float v = inner_product(xb + r * d, q + i * d, d);
            if (v > s[0])
                faiss::minheap_replace_top(k, s, l, v, static_cast<int64_t>(r));
        }
        faiss::minheap_reorder(k, s, l);
    }
    positions_to_ids(a, labels, nq * k);
    return true;
}

} // namespace

// FAISS scores fewer than distance_compute_blas_threshold (20) queries with
// its own scalar loops, which in Debian's generic build run at well under
// 1 GFLOP/s; OpenBLAS's GEMM is several times faster even for one query, so
// the exhaustive scans left to FAISS (filtered ones, batches of more than
// kScanQueries) always go through BLAS.
static void use_blas_for_single_queries()
{
    static std::once_flag once;
    std::call_once(once, [] { faiss::distance_compute_blas_threshold = 1; });
}

extern "C" cerebro_status cb_ann_search(const cb_ann *ann, const float *queries, size_t nq, uint32_t k,
                                        const cb_ann_filter *filter, float *scores, int64_t *ids)
{
    size_t total;
    use_blas_for_single_queries();
    if (!ann || (nq > 0 && k > 0 && (!queries || !scores || !ids)) || (filter && filter->n > 0 && !filter->ids))
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_search: NULL argument");
    if (cb_mul_size(nq, k, &total) != 0 || total > SIZE_MAX / sizeof(int64_t))
        return cb_fail(CEREBRO_E_LIMIT, "cb_ann_search: %zu queries x k=%u overflows", nq, k);
    if (nq == 0 || k == 0)
        return CEREBRO_OK;
    size_t kk = std::min<uint64_t>(k, static_cast<uint64_t>(ann->index->ntotal));
    if (filter)
        kk = std::min(kk, filter->n);
    if (kk == 0) {
        spread_rows(scores, ids, nq, 0, k);
        return CEREBRO_OK;
    }
    return guarded("ANN search", CEREBRO_E_STORE, [&]() -> cerebro_status {
        if (filter)
            search_filtered(*ann, nq, queries, kk, *filter, scores, ids);
        else if (!search_flat_scan(*ann, nq, queries, kk, scores, ids))
            ann->index->search(static_cast<idx_t>(nq), queries, static_cast<idx_t>(kk), scores, ids);
        spread_rows(scores, ids, nq, kk, k);
        return CEREBRO_OK;
    });
}

extern "C" cerebro_status cb_ann_write(const cb_ann *ann, const char *path)
{
    if (!ann || !path)
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_write: NULL argument");
    std::string tmp = std::string(path) + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f)
        return cb_fail(CEREBRO_E_IO, "%s: cannot create: %s", tmp.c_str(), std::strerror(errno));
    cerebro_status st = guarded(tmp.c_str(), CEREBRO_E_IO, [&]() { return write_file(*ann, f, tmp.c_str()); });
    if (std::fclose(f) != 0 && st == CEREBRO_OK)
        st = cb_fail(CEREBRO_E_IO, "%s: close failed: %s", tmp.c_str(), std::strerror(errno));
    if (st == CEREBRO_OK && std::rename(tmp.c_str(), path) != 0)
        st = cb_fail(CEREBRO_E_IO, "%s: cannot rename to %s: %s", tmp.c_str(), path, std::strerror(errno));
    if (st != CEREBRO_OK) {
        unlink(tmp.c_str());
        return st;
    }
    return fsync_parent(path);
}

extern "C" cerebro_status cb_ann_read(const char *path, cb_ann **out)
{
    if (!out || !path)
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_read: NULL argument");
    *out = nullptr;
    File f(std::fopen(path, "rb"));
    if (!f)
        return cb_fail(errno == ENOENT ? CEREBRO_E_NOT_FOUND : CEREBRO_E_IO, "%s: %s", path, std::strerror(errno));
    std::unique_ptr<cb_ann> a;
    cerebro_status st = guarded(path, CEREBRO_E_CORRUPT, [&]() -> cerebro_status {
        Trailer t;
        a.reset(new cb_ann);
        cerebro_status cs = check_file(f.get(), path, t, a->structure);
        if (cs != CEREBRO_OK)
            return cs;
        BoundedReader r(f.get(), t.payload_bytes);
        a->index.reset(faiss::read_index(&r));
        if (a->index->metric_type != faiss::METRIC_INNER_PRODUCT)
            return cb_fail(CEREBRO_E_CORRUPT, "%s: index does not use inner product", path);
        classify(*a);
        if (!a->idmap && !a->ivf)
            return cb_fail(CEREBRO_E_CORRUPT, "%s: index keeps no ids (not written by libcerebro)", path);
        apply_parameters(*a, static_cast<uint64_t>(a->index->ntotal));
        return CEREBRO_OK;
    });
    if (st != CEREBRO_OK)
        return st;
    *out = a.release();
    return CEREBRO_OK;
}

extern "C" uint64_t cb_ann_count(const cb_ann *ann)
{
    return ann ? static_cast<uint64_t>(ann->index->ntotal) : 0;
}

extern "C" uint32_t cb_ann_dim(const cb_ann *ann)
{
    return ann ? static_cast<uint32_t>(ann->index->d) : 0;
}

extern "C" const char *cb_ann_structure(const cb_ann *ann)
{
    return ann ? ann->structure.c_str() : "";
}

extern "C" uint64_t cb_ann_memory(const cb_ann *ann)
{
    return ann ? memory_of(ann->index.get()) : 0;
}

extern "C" int cb_ann_is_exact(const cb_ann *ann)
{
    return ann && ann->idmap && dynamic_cast<const faiss::IndexFlat *>(ann->idmap->index) ? 1 : 0;
}

// An IVF list scan costs about twice an exact scan per vector (lists lie
// apart in memory, each keeps its own heap): on 100k uniform 512-d vectors,
// IVF512,Flat tuned to nprobe 411 took 46 ms a query against 28 ms exact
// (bench/run-all.sh). So once tuning needs more than half of the lists,
// exact search is faster and exact.
extern "C" int cb_ann_exact_is_faster(const cb_ann *ann, uint64_t memory_budget)
{
    if (!ann || !dynamic_cast<const faiss::IndexIVFFlat *>(ann->ivf))
        return 0;
    uint64_t n = static_cast<uint64_t>(ann->index->ntotal), dim = static_cast<uint64_t>(ann->index->d);
    if (memory_budget && n && memory_budget / n < 4 * dim + kIdMapBytes)
        return 0;
    return 2 * ann->ivf->nprobe > ann->ivf->nlist;
}

namespace {

// The sample recall is measured on: `nq` stored vectors chosen by a seeded
// generator, one from each of nq equal strata of the store (stores add files
// folder by folder, so strata spread it over the collection), and the ids
// of each one's exact top 10 among the other vectors.
struct Probe {
    size_t nq = 0, k = 0;       // k: neighbours per query (10, or n - 1)
    std::vector<float> q;       // nq x d
    std::vector<int64_t> self;  // the query's own id
    std::vector<int64_t> truth; // nq x k ids, sorted per row
};

constexpr uint64_t kProbeSeed = 0x63657265627230ull; // "cerebr0"

uint64_t splitmix(uint64_t &s)
{
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void build_probe(size_t d, const float *x, const int64_t *ids, size_t n, size_t queries, Probe &p)
{
    p.nq = std::min(n, queries);
    p.k = std::min<size_t>(10, n - 1);
    if (p.nq == 0 || p.k == 0) {
        p.nq = 0;
        return;
    }
    std::vector<size_t> pos(p.nq);
    uint64_t seed = kProbeSeed;
    for (size_t i = 0; i < p.nq; i++) {
        size_t lo = i * n / p.nq, hi = (i + 1) * n / p.nq;
        pos[i] = lo + static_cast<size_t>(splitmix(seed) % (hi - lo));
    }
    const size_t kx = p.k + 1;
    p.q.resize(p.nq * d);
    p.self.resize(p.nq);
    for (size_t i = 0; i < p.nq; i++) {
        std::memcpy(&p.q[i * d], x + pos[i] * d, d * sizeof(float));
        p.self[i] = ids[pos[i]];
    }
    std::vector<float> dist(p.nq * kx);
    std::vector<int64_t> at(p.nq * kx);
    faiss::float_minheap_array_t heap = {p.nq, kx, at.data(), dist.data()};
    faiss::knn_inner_product(p.q.data(), x, d, p.nq, n, &heap);
    p.truth.resize(p.nq * p.k);
    for (size_t i = 0; i < p.nq; i++) {
        // Leave the query out: its own position, or (a duplicate took its
        // place) the last of the k + 1.
        const int64_t *row = &at[i * kx];
        size_t skip = kx - 1;
        for (size_t j = 0; j < kx; j++)
            if (row[j] == static_cast<int64_t>(pos[i]))
                skip = j;
        int64_t *t = &p.truth[i * p.k];
        for (size_t j = 0, o = 0; j < kx; j++)
            if (j != skip)
                t[o++] = row[j] >= 0 ? ids[row[j]] : -2;
        std::sort(t, t + p.k);
    }
}

// recall@10 of the index as its parameters stand: the approximate top k + 1
// with the query's own id left out, against the truth.
double probe_recall(const cb_ann &a, const Probe &p)
{
    if (p.nq == 0)
        return 1.0;
    const size_t kx = std::min<size_t>(p.k + 1, static_cast<size_t>(a.index->ntotal));
    std::vector<float> dist(p.nq * kx);
    std::vector<int64_t> found(p.nq * kx);
    a.index->search(static_cast<idx_t>(p.nq), p.q.data(), static_cast<idx_t>(kx), dist.data(), found.data());
    size_t hits = 0;
    for (size_t i = 0; i < p.nq; i++) {
        const int64_t *truth = &p.truth[i * p.k];
        for (size_t j = 0, taken = 0; j < kx && taken < p.k; j++) {
            int64_t id = found[i * kx + j];
            if (id == p.self[i])
                continue;
            taken++;
            hits += id >= 0 && std::binary_search(truth, truth + p.k, id);
        }
    }
    return static_cast<double>(hits) / static_cast<double>(p.nq * p.k);
}

// IVF with uncompressed vectors scores every candidate exactly, so a true
// neighbour is among the top 10 at nprobe p exactly when its list is among
// the p lists the query probes first. The rank of that list, per true
// neighbour, then gives recall@10 at every nprobe from one scan of the
// centroids instead of one search per value (which at 100k uniform vectors
// took minutes). False (use searches) for other structures, or when the
// ranks would take over 256 MiB.
bool list_ranks(const cb_ann &a, const Probe &p, std::vector<uint32_t> &ranks)
{
    const auto *flat = dynamic_cast<const faiss::IndexIVFFlat *>(a.ivf);
    const size_t nlist = a.ivf ? a.ivf->nlist : 0;
    if (!flat || a.index.get() != a.ivf || p.nq == 0 || p.nq * nlist > (size_t{1} << 26))
        return false;
    std::unordered_map<int64_t, uint32_t> list_of;
    list_of.reserve(p.truth.size());
    for (int64_t id : p.truth)
        list_of.emplace(id, UINT32_MAX);
    for (size_t l = 0; l < nlist; l++) {
        size_t size = flat->invlists->list_size(l);
        faiss::InvertedLists::ScopedIds ids(flat->invlists, l);
        for (size_t j = 0; j < size; j++) {
            auto it = list_of.find(ids[j]);
            if (it != list_of.end())
                it->second = static_cast<uint32_t>(l);
        }
    }
    std::vector<float> score(p.nq * nlist);
    std::vector<idx_t> order(p.nq * nlist);
    flat->quantizer->search(static_cast<idx_t>(p.nq), p.q.data(), static_cast<idx_t>(nlist), score.data(),
                            order.data());
    std::vector<uint32_t> rank_of(nlist);
    ranks.clear();
    ranks.reserve(p.truth.size());
    for (size_t i = 0; i < p.nq; i++) {
        std::fill(rank_of.begin(), rank_of.end(), static_cast<uint32_t>(nlist));
        for (size_t r = 0; r < nlist; r++)
            if (order[i * nlist + r] >= 0)
                rank_of[static_cast<size_t>(order[i * nlist + r])] = static_cast<uint32_t>(r);
        for (size_t j = 0; j < p.k; j++) {
            auto it = list_of.find(p.truth[i * p.k + j]);
            uint32_t l = it == list_of.end() ? UINT32_MAX : it->second;
            ranks.push_back(l == UINT32_MAX ? static_cast<uint32_t>(nlist) : rank_of[l]);
        }
    }
    std::sort(ranks.begin(), ranks.end());
    return true;
}

// recall@10 at nprobe from sorted list ranks.
double recall_from_ranks(const std::vector<uint32_t> &ranks, uint32_t nprobe)
{
    size_t found = static_cast<size_t>(std::lower_bound(ranks.begin(), ranks.end(), nprobe) - ranks.begin());
    return ranks.empty() ? 1.0 : static_cast<double>(found) / static_cast<double>(ranks.size());
}

// recall@10 as the structure stands: from list ranks where they apply,
// else by searching the sample.
double current_recall(const cb_ann &a, const Probe &p)
{
    std::vector<uint32_t> ranks;
    if (list_ranks(a, p, ranks))
        return recall_from_ranks(ranks, static_cast<uint32_t>(a.ivf->nprobe));
    return probe_recall(a, p);
}

// The one search parameter of a structure: nprobe of IVF (1..nlist),
// efSearch of HNSW (its walk keeps max(efSearch, k) candidates: 16 up to
// the collection size, at most 1 << 16).
struct Knob {
    const char *name = "";
    uint32_t lo = 0, hi = 0;
    uint32_t (*get)(const cb_ann &) = nullptr;
    void (*set)(cb_ann &, uint32_t) = nullptr;
};

Knob knob_of(const cb_ann &a)
{
    Knob k;
    if (a.ivf) {
        k.name = "nprobe";
        k.lo = 1;
        k.hi = static_cast<uint32_t>(std::min<size_t>(a.ivf->nlist, UINT32_MAX));
        k.get = [](const cb_ann &c) { return static_cast<uint32_t>(c.ivf->nprobe); };
        k.set = [](cb_ann &c, uint32_t v) { c.ivf->nprobe = v; };
    } else if (a.hnsw) {
        k.name = "efSearch";
        k.lo = 16;
        k.hi = static_cast<uint32_t>(std::min<int64_t>(std::max<int64_t>(a.index->ntotal, 16), 1 << 16));
        k.get = [](const cb_ann &c) { return static_cast<uint32_t>(c.hnsw->hnsw.efSearch); };
        k.set = [](cb_ann &c, uint32_t v) { c.hnsw->hnsw.efSearch = static_cast<int>(v); };
    }
    return k;
}

// Replaces (or appends) name=value among the search parameters of the
// structure string, keeping any others.
void set_structure_parameter(cb_ann &a, const char *name, uint32_t value)
{
    std::string factory, params, out;
    split_structure(a.structure, factory, params);
    const std::string key = std::string(name) + "=";
    size_t start = 0;
    while (start <= params.size() && !params.empty()) {
        size_t comma = params.find(',', start);
        std::string item = params.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty() && item.compare(0, key.size(), key) != 0) {
            out += out.empty() ? "" : ",";
            out += item;
        }
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    out += out.empty() ? "" : ",";
    out += key;
    out += std::to_string(value);
    a.structure = factory + "|" + out;
}

} // namespace

extern "C" cerebro_status cb_ann_recall_at_10(const cb_ann *ann, const float *x, const int64_t *ids, size_t n,
                                              size_t queries, double *recall)
{
    if (!ann || !recall || (n > 0 && (!x || !ids)))
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_recall_at_10: NULL argument");
    *recall = 1.0;
    return guarded("ANN recall", CEREBRO_E_STORE, [&]() -> cerebro_status {
        Probe p;
        build_probe(static_cast<size_t>(ann->index->d), x, ids, n, queries, p);
        *recall = current_recall(*ann, p);
        return CEREBRO_OK;
    });
}

extern "C" cerebro_status cb_ann_tune(cb_ann *ann, const float *x, const int64_t *ids, size_t n, double target,
                                      size_t queries, cb_ann_tuning *out)
{
    if (!ann || !out || (n > 0 && (!x || !ids)))
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_tune: NULL argument");
    if (!(target > 0 && target <= 1))
        return cb_fail(CEREBRO_E_INVALID, "cb_ann_tune: recall target %g is not in (0, 1]", target);
    *out = cb_ann_tuning{"", 0, 0, 1.0, 1.0, 1, 0};
    return guarded("ANN tuning", CEREBRO_E_STORE, [&]() -> cerebro_status {
        Probe p;
        build_probe(static_cast<size_t>(ann->index->d), x, ids, n, queries, p);
        const Knob knob = knob_of(*ann);
        auto measure = [&](uint32_t v) {
            knob.set(*ann, v);
            out->evaluations++;
            return probe_recall(*ann, p);
        };
        if (!knob.get) {
            out->recall_before = out->recall = probe_recall(*ann, p);
            out->reached = out->recall >= target;
            return CEREBRO_OK;
        }
        out->parameter = knob.name;
        out->before = knob.get(*ann);
        std::vector<uint32_t> ranks;
        if (list_ranks(*ann, p, ranks)) {
            // The smallest nprobe that finds ceil(target * all) neighbours.
            const double total = static_cast<double>(ranks.size());
            size_t need = static_cast<size_t>(std::ceil(target * total - 1e-9));
            need = std::min(std::max<size_t>(need, 1), ranks.size());
            uint32_t value = std::min(std::max(ranks[need - 1] + 1, knob.lo), knob.hi);
            out->recall_before = recall_from_ranks(ranks, out->before);
            out->value = value;
            out->recall = recall_from_ranks(ranks, value);
            out->reached = out->recall >= target;
            knob.set(*ann, value);
            set_structure_parameter(*ann, knob.name, value);
            return CEREBRO_OK;
        }
        // An exception half way leaves the parameter the structure string names.
        struct Restore {
            cb_ann &a;
            const Knob &k;
            uint32_t v;
            bool keep = false;
            ~Restore()
            {
                if (!keep)
                    k.set(a, v);
            }
        } restore{*ann, knob, out->before};
        out->recall_before = measure(out->before);
        // Doubling from the smallest value until the target is met, then
        // bisection between the last value that missed and the first that
        // met it: recall grows with the parameter (IVF-Flat: a superset of
        // candidates, each scored exactly).
        uint32_t miss = 0, hit = knob.lo;
        double hit_recall = 0;
        for (;;) {
            hit_recall = measure(hit);
            if (hit_recall >= target || hit == knob.hi)
                break;
            miss = hit;
            hit = static_cast<uint32_t>(std::min<uint64_t>(2ull * hit, knob.hi));
        }
        // Unreachable (codes too coarse): settle for the best recall there is.
        const double goal = hit_recall >= target ? target : hit_recall;
        while (hit - miss > 1 && hit > knob.lo) {
            uint32_t mid = miss + (hit - miss) / 2;
            if (mid < knob.lo)
                break;
            double r = measure(mid);
            if (r >= goal) {
                hit = mid;
                hit_recall = r;
            } else {
                miss = mid;
            }
        }
        knob.set(*ann, hit);
        set_structure_parameter(*ann, knob.name, hit);
        restore.keep = true;
        out->value = hit;
        out->recall = hit_recall;
        out->reached = hit_recall >= target;
        return CEREBRO_OK;
    });
}

extern "C" void cb_ann_free(cb_ann *ann)
{
    delete ann;
}
