// libsentencepiece behind the plain-C table of spm_module.h. The only C++
// file that includes it; built as its own module (libcerebro-spm.so) for
// the reason spm_module.h gives. Every entry point runs its body through
// guarded(), which turns std::bad_alloc and any other exception into a
// cerebro_status and a message; libsentencepiece's own errors come back as
// util::Status and keep their text.
#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "text/spm_module.h"

namespace {

template <typename Body>
cerebro_status guarded(char *msg, size_t cap, Body &&body) noexcept
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        std::snprintf(msg, cap, "out of memory");
        return CEREBRO_E_NOMEM;
    } catch (const std::exception &e) {
        std::snprintf(msg, cap, "%s", e.what());
        return CEREBRO_E_FORMAT;
    } catch (...) {
        std::snprintf(msg, cap, "unknown C++ exception");
        return CEREBRO_E_INTERNAL;
    }
}

using Processor = sentencepiece::SentencePieceProcessor;

const Processor *processor(const void *h)
{
    return static_cast<const Processor *>(h);
}

cerebro_status load(const void *data, size_t len, void **handle, char *msg, size_t cap)
{
    *handle = nullptr;
    return guarded(msg, cap, [&]() -> cerebro_status {
        auto sp = new Processor;
        auto status = sp->LoadFromSerializedProto(
            std::string_view(static_cast<const char *>(data), len));
        if (!status.ok()) {
            delete sp;
            std::snprintf(msg, cap, "%s", status.ToString().c_str());
            return CEREBRO_E_FORMAT;
        }
        *handle = sp;
        return CEREBRO_OK;
    });
}

void free_processor(void *h)
{
    delete static_cast<Processor *>(h);
}

int32_t piece_count(const void *h)
{
    return processor(h)->GetPieceSize();
}

int32_t eos_id(const void *h)
{
    return processor(h)->eos_id();
}

int32_t bos_id(const void *h)
{
    return processor(h)->bos_id();
}

int32_t pad_id(const void *h)
{
    return processor(h)->pad_id();
}

cerebro_status encode(const void *h, const char *text, size_t len, int32_t **ids, size_t *n,
                      char *msg, size_t cap)
{
    *ids = nullptr;
    *n = 0;
    return guarded(msg, cap, [&]() -> cerebro_status {
        std::vector<int> v;
        auto status = processor(h)->Encode(std::string_view(text ? text : "", len), &v);
        if (!status.ok()) {
            std::snprintf(msg, cap, "%s", status.ToString().c_str());
            return CEREBRO_E_INVALID;
        }
        if (v.empty())
            return CEREBRO_OK;
        auto out = static_cast<int32_t *>(std::malloc(v.size() * sizeof(int32_t)));
        if (!out)
            throw std::bad_alloc();
        for (size_t i = 0; i < v.size(); i++)
            out[i] = static_cast<int32_t>(v[i]);
        *ids = out;
        *n = v.size();
        return CEREBRO_OK;
    });
}

const cb_spm_module kModule = {CB_SPM_MODULE_ABI, load,   free_processor, piece_count,
                               eos_id,            bos_id, pad_id,         encode};

} // namespace

extern "C" __attribute__((visibility("default"))) const cb_spm_module *cerebro_spm_module_v1(void)
{
    return &kModule;
}
