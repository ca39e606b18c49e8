// A setjmp-guarded wrapper over libpng 1.6's full read API, so Swift never sees a longjmp.
//
// libpng reports errors by longjmp to the caller's setjmp; a longjmp across Swift frames is
// undefined behaviour. Every libpng call therefore happens inside these C functions, which
// own the setjmp and turn an error into a return code plus a message.
#ifndef CNNCODES_CPNG_H
#define CNNCODES_CPNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Facts from the IHDR chunk.
typedef struct {
    uint32_t width;
    uint32_t height;
    int bitDepth;    // 1, 2, 4, 8 or 16
    int colorType;   // PNG_COLOR_TYPE_*: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    int interlaced;  // 1 for Adam7
} cpng_header;

/// Reads the signature and the chunks up to the first IDAT (no pixel allocation).
/// Returns 0, or -1 with a NUL-terminated reason in `message` (capacity `messageCapacity`).
int cpng_read_header(const uint8_t *data, size_t size, cpng_header *header,
                     char *message, size_t messageCapacity);

/// Decodes the whole image into `rgb` (width * height * 3 bytes, 8 bits per sample,
/// interleaved R,G,B, rows top to bottom) as PIL's `convert("RGB")` would see it:
/// palette entries expanded (tRNS ignored), gray replicated to R=G=B, alpha dropped (not
/// composited), 16-bit samples reduced to their most significant byte, gamma chunks
/// ignored. `rgbCapacity` must be at least width * height * 3 of this image's header.
/// Returns 0, or -1 with a reason (truncated or corrupt data is an error).
int cpng_decode_rgb8(const uint8_t *data, size_t size, uint8_t *rgb, size_t rgbCapacity,
                     char *message, size_t messageCapacity);

#ifdef __cplusplus
}
#endif

#endif
