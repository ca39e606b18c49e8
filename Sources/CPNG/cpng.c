// See include/cpng.h. All libpng calls live here, below a setjmp.
#include "cpng.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/// The in-memory source and the error text, reached from libpng's callbacks.
typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char *message;
    size_t messageCapacity;
} cpng_source;

static void cpng_set_message(cpng_source *source, const char *text) {
    if (source->messageCapacity == 0) return;
    strncpy(source->message, text, source->messageCapacity - 1);
    source->message[source->messageCapacity - 1] = '\0';
}

static void cpng_error(png_structp png, png_const_charp text) {
    cpng_source *source = (cpng_source *)png_get_error_ptr(png);
    cpng_set_message(source, text);
    png_longjmp(png, 1);
}

static void cpng_warning(png_structp png, png_const_charp text) {
    // Warnings concern ancillary data (bad CRC of a text chunk, an unknown sRGB profile…);
    // the pixels are intact, as PIL also accepts them.
    (void)png;
    (void)text;
}

static void cpng_read(png_structp png, png_bytep out, png_size_t count) {
    cpng_source *source = (cpng_source *)png_get_io_ptr(png);
    if (count > source->size - source->offset) {
        png_error(png, "truncated PNG data");
    }
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

/// Creates the read structs over `source`; NULL when out of memory.
static png_structp cpng_create(cpng_source *source, png_infop *info) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, cpng_error, cpng_warning);
    if (png == NULL) return NULL;
    *info = png_create_info_struct(png);
    if (*info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        return NULL;
    }
    png_set_read_fn(png, source, cpng_read);
    return png;
}

/// Checks the signature and creates the read structs over `source`; NULL (with the message
/// set) when the data is not a PNG or memory is short. The caller must set its own setjmp
/// before the first libpng call that can fail: a longjmp target cannot outlive its frame,
/// so it cannot live in here.
static png_structp cpng_begin(cpng_source *source, png_infop *info) {
    if (source->size < 8 || png_sig_cmp(source->data, 0, 8) != 0) {
        cpng_set_message(source, "not a PNG signature");
        return NULL;
    }
    png_structp png = cpng_create(source, info);
    if (png == NULL) cpng_set_message(source, "out of memory");
    return png;
}

int cpng_read_header(const uint8_t *data, size_t size, cpng_header *header,
                     char *message, size_t messageCapacity) {
    cpng_source source = {data, size, 0, message, messageCapacity};
    png_infop info = NULL;
    png_structp png = cpng_begin(&source, &info);
    if (png == NULL) return -1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_read_info(png, info);
    header->width = png_get_image_width(png, info);
    header->height = png_get_image_height(png, info);
    header->bitDepth = png_get_bit_depth(png, info);
    header->colorType = png_get_color_type(png, info);
    header->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int cpng_decode_rgb8(const uint8_t *data, size_t size, uint8_t *rgb, size_t rgbCapacity,
                     char *message, size_t messageCapacity) {
    cpng_source source = {data, size, 0, message, messageCapacity};
    png_infop info = NULL;
    png_structp png = cpng_begin(&source, &info);
    if (png == NULL) return -1;
    // Modified after setjmp and read after a longjmp: must be volatile.
    uint8_t *volatile samples = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(samples);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if ((size_t)width * (size_t)height * 3 > rgbCapacity) {
        png_error(png, "output buffer too small for the PNG's declared size");
    }
    // Normalise every PNG to 8-bit G, GA, RGB or RGBA; the channel count after
    // png_read_update_info says which. No gamma or background transforms: PIL applies none.
    int colorType = png_get_color_type(png, info);
    if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colorType == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    png_set_strip_16(png);  // keeps the most significant byte, like PIL's ";16B" unpackers
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t rowBytes = png_get_rowbytes(png, info);
    int channels = png_get_channels(png, info);
    if (channels < 1 || channels > 4 || rowBytes < (size_t)width * channels) {
        png_error(png, "unexpected PNG layout after transforms");
    }
    samples = malloc(rowBytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (samples == NULL || rows == NULL) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = samples + (size_t)y * rowBytes;
    png_read_image(png, rows);

    for (png_uint_32 y = 0; y < height; y++) {
        const uint8_t *in = rows[y];
        uint8_t *out = rgb + (size_t)y * width * 3;
        switch (channels) {
        case 1:  // gray
            for (png_uint_32 x = 0; x < width; x++) { out[0] = out[1] = out[2] = in[x]; out += 3; }
            break;
        case 2:  // gray + alpha: alpha dropped
            for (png_uint_32 x = 0; x < width; x++) { out[0] = out[1] = out[2] = in[2 * x]; out += 3; }
            break;
        case 3:
            memcpy(out, in, (size_t)width * 3);
            break;
        default:  // RGBA: alpha dropped
            for (png_uint_32 x = 0; x < width; x++) {
                out[0] = in[4 * x]; out[1] = in[4 * x + 1]; out[2] = in[4 * x + 2]; out += 3;
            }
            break;
        }
    }
    free(samples);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}
