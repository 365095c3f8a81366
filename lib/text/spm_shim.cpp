// libsentencepiece behind a C interface (spm.h). Every entry point runs its
// body through guarded(), which turns std::bad_alloc and any other exception
// into a cerebro_status; libsentencepiece's own errors come back as
// util::Status and keep their message.
#include <sentencepiece_processor.h>

#include <exception>
#include <new>
#include <string>
#include <vector>

#include "core/core.h"
#include "text/spm.h"

struct cb_spm {
    sentencepiece::SentencePieceProcessor sp;
};

namespace {

template <typename Body>
cerebro_status guarded(const char *what, Body &&body) noexcept
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        return cb_fail(CEREBRO_E_FORMAT, "%s: %s", what, e.what());
    } catch (...) {
        return cb_fail(CEREBRO_E_INTERNAL, "%s: unknown C++ exception", what);
    }
}

// Pieces a model may have: ids travel as int32 and configs bound vocab_size
// by the same figure.
constexpr int kMaxPieces = 1 << 24;

} // namespace

extern "C" cerebro_status cb_spm_load(const void *data, size_t len, const char *label,
                                      cb_spm **out)
{
    const char *what = label ? label : "SentencePiece model";

    *out = nullptr;
    if (!data && len)
        return cb_fail(CEREBRO_E_INVALID, "%s: model data is NULL", what);
    if (len > CB_SPM_MAX_BYTES)
        return cb_fail(CEREBRO_E_LIMIT, "%s: SentencePiece model is %zu bytes, over the limit of %zu",
                       what, len, CB_SPM_MAX_BYTES);
    return guarded(what, [&]() -> cerebro_status {
        auto spm = new cb_spm;
        auto status = spm->sp.LoadFromSerializedProto(
            std::string_view(static_cast<const char *>(data), len));
        if (!status.ok()) {
            delete spm;
            return cb_fail(CEREBRO_E_FORMAT, "%s: not a SentencePiece model libsentencepiece loads (%s)",
                           what, status.ToString().c_str());
        }
        int n = spm->sp.GetPieceSize();
        if (n < 1 || n > kMaxPieces) {
            delete spm;
            return cb_fail(n < 1 ? CEREBRO_E_FORMAT : CEREBRO_E_LIMIT,
                           "%s: SentencePiece model has %d pieces (1..%d supported)", what, n,
                           kMaxPieces);
        }
        *out = spm;
        return CEREBRO_OK;
    });
}

extern "C" void cb_spm_free(cb_spm *spm)
{
    delete spm;
}

extern "C" uint32_t cb_spm_piece_count(const cb_spm *spm)
{
    return static_cast<uint32_t>(spm->sp.GetPieceSize());
}

extern "C" int32_t cb_spm_eos_id(const cb_spm *spm)
{
    return spm->sp.eos_id();
}

extern "C" int32_t cb_spm_bos_id(const cb_spm *spm)
{
    return spm->sp.bos_id();
}

extern "C" int32_t cb_spm_pad_id(const cb_spm *spm)
{
    return spm->sp.pad_id();
}

extern "C" cerebro_status cb_spm_encode(const cb_spm *spm, const char *text, size_t len,
                                        size_t limit, cb_ids *out)
{
    return guarded("cerebro_tokenizer_encode", [&]() -> cerebro_status {
        std::vector<int> ids;
        auto status = spm->sp.Encode(std::string_view(text ? text : "", len), &ids);
        if (!status.ok())
            return cb_fail(CEREBRO_E_INVALID, "cerebro_tokenizer_encode: libsentencepiece: %s",
                           status.ToString().c_str());
        size_t n = limit > 0 && ids.size() > limit ? limit : ids.size();
        if (cb_ids_reserve(out, n) != 0)
            return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
        for (size_t i = 0; i < n; i++)
            out->v[out->n++] = static_cast<int32_t>(ids[i]);
        return CEREBRO_OK;
    });
}
