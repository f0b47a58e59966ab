/* A piece-cache way's ids widened into place without a branch on their form: where ways
   of both forms mix, such a branch mispredicts (cl100k's and o200k's pieces hold an id past
   2**16 in 3 and 7 in 100 of the pieces of English text and code). */
#ifndef BPE_WAY_IDS_H
#define BPE_WAY_IDS_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The 16 bytes at src as 8 ids at dst: eight 16-bit ids widened where packed, else four
   32-bit ids (then dst[4:8] is any). */
static inline void bpe_way_ids(const uint8_t* src, int packed, int32_t* dst) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i*)src), zero = _mm_setzero_si128();
    __m128i keep = _mm_set1_epi32(-packed);
    __m128i low = _mm_unpacklo_epi16(v, zero);
    _mm_storeu_si128((__m128i*)dst, _mm_or_si128(_mm_and_si128(keep, low),
                                                 _mm_andnot_si128(keep, v)));
    _mm_storeu_si128((__m128i*)(dst + 4), _mm_unpackhi_epi16(v, zero));
#else
    uint16_t wide[8];
    int k;
    if (packed) {
        memcpy(wide, src, 16);
        for (k = 0; k < 8; k++) dst[k] = wide[k];
    } else {
        memcpy(dst, src, 16);
    }
#endif
}

#endif
