// The activation a kernel applies in its epilogue, as the Swift `Activation` enum passes it.
#ifndef CK_ACTIVATION_H
#define CK_ACTIVATION_H

typedef enum {
    CK_ACT_NONE = 0,
    CK_ACT_RELU = 1,   // max(v, 0)
    CK_ACT_CLIP = 2,   // min(max(v, lo), hi)
    CK_ACT_LEAKY = 3,  // v < 0 ? v * lo : v   (lo holds alpha)
} ck_activation_kind;

typedef struct {
    ck_activation_kind kind;
    float lo;
    float hi;
} ck_activation;

#endif
