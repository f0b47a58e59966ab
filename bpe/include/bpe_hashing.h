/* The masks of load_key (bpe/_hashing.pxd). */
#ifndef BPE_HASHING_H
#define BPE_HASHING_H

/* bpe_low_mask[n], bpe_high_mask[n]: the bits of the first n bytes (n <= 16) of two
   words loaded from 16 bytes, on a little-endian machine (elsewhere load_key copies). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BPE_KEY_LOADS 1
#else
#define BPE_KEY_LOADS 0
#endif
#define BPE_BYTES(k) ((k) >= 8 ? ~0ULL : ((1ULL << (8 * (k))) - 1))
static const unsigned long long bpe_low_mask[17] = {
    BPE_BYTES(0), BPE_BYTES(1), BPE_BYTES(2), BPE_BYTES(3), BPE_BYTES(4), BPE_BYTES(5),
    BPE_BYTES(6), BPE_BYTES(7), BPE_BYTES(8), BPE_BYTES(8), BPE_BYTES(8), BPE_BYTES(8),
    BPE_BYTES(8), BPE_BYTES(8), BPE_BYTES(8), BPE_BYTES(8), BPE_BYTES(8)};
static const unsigned long long bpe_high_mask[17] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, BPE_BYTES(1), BPE_BYTES(2), BPE_BYTES(3), BPE_BYTES(4),
    BPE_BYTES(5), BPE_BYTES(6), BPE_BYTES(7), BPE_BYTES(8)};

#endif
