/* bench_hash: content hashing (lib/core/sha256.c: libcrypto's SHA-256)
 * against a portable C SHA-256 written from FIPS 180-4 (what
 * lib/core/sha256.c was before it called libcrypto), on the same random
 * buffers, interleaved round by round; the medians of the rounds in MB/s and
 * their ratio. Every digest of the two must be equal (stored hashes did not
 * change).
 *
 *   bench_hash [--rounds R]
 *
 * Sizes: 100 KB (a web JPEG), 4 MB (a 12 MP JPEG), 64 MB (a video). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sha256.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t s[8], const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s[0] += a, s[1] += b, s[2] += c, s[3] += d, s[4] += e, s[5] += f, s[6] += g, s[7] += h;
}

/* The portable reference: whole blocks, then the padded tail. */
static void reference_sha256(const uint8_t *p, size_t n, uint8_t digest[32])
{
    uint32_t s[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    uint8_t tail[128] = {0};
    size_t full = n / 64 * 64, rest = n - full, len = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (size_t o = 0; o < full; o += 64)
        compress(s, p + o);
    memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    for (int i = 0; i < 8; i++)
        tail[len - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t o = 0; o < len; o += 64)
        compress(s, tail + o);
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 4; b++)
            digest[4 * i + b] = (uint8_t)(s[i] >> (24 - 8 * b));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"rounds", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    static const size_t sizes[] = {100000, 4000000, 64000000};
    enum { MAX_ROUNDS = 99 };
    int rounds = 7, c;
    while ((c = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
        if (c != 'r')
            return 2;
        rounds = atoi(optarg);
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || optind != argc) {
        fprintf(stderr, "usage: bench_hash [--rounds R (1-%d)]\n", MAX_ROUNDS);
        return 2;
    }
    size_t total = 64000000;
    uint8_t *data = malloc(total);
    if (!data) {
        fprintf(stderr, "bench_hash: out of memory\n");
        return 1;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < total; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    printf("%-10s %14s %14s %8s   (median of %d rounds, MB/s)\n", "size", "portable C", "libcrypto", "ratio",
           rounds);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s], reps = total / size;
        double ref[MAX_ROUNDS], lib[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
            uint8_t a[32], b[32];
            double t0 = now();
            for (size_t i = 0; i < reps; i++)
                reference_sha256(data + i * size, size, a);
            double t1 = now();
            for (size_t i = 0; i < reps; i++)
                if (cb_sha256(data + i * size, size, b) != CEREBRO_OK) {
                    fprintf(stderr, "bench_hash: %s\n", cerebro_last_error());
                    return 1;
                }
            double t2 = now();
            if (memcmp(a, b, 32) != 0) {
                fprintf(stderr, "bench_hash: digests differ at %zu bytes\n", size);
                return 1;
            }
            ref[r] = reps * size / 1e6 / (t1 - t0);
            lib[r] = reps * size / 1e6 / (t2 - t1);
        }
        qsort(ref, rounds, sizeof *ref, cmp_double);
        qsort(lib, rounds, sizeof *lib, cmp_double);
        printf("%-10zu %14.0f %14.0f %7.1fx\n", size, ref[rounds / 2], lib[rounds / 2],
               lib[rounds / 2] / ref[rounds / 2]);
    }
    free(data);
    return 0;
}
