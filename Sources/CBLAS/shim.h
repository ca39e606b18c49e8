// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). Debian installs cblas.h under the
// multiarch include directory, which the compiler searches by default.
#include <cblas.h>
