#include "baseline.h"

#include <stdio.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void telemed_memory_probe(long *resident_bytes, long *heap_bytes) {
    *resident_bytes = -1;
    *heap_bytes = -1;
#if defined(__GLIBC__)
    malloc_trim(0);
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)
    struct mallinfo2 info = mallinfo2();
    *heap_bytes = (long)info.uordblks;
#endif
#endif
    FILE *file = fopen("/proc/self/statm", "r");
    if (file != NULL) {
        long size = 0, resident = 0;
        if (fscanf(file, "%ld %ld", &size, &resident) == 2) {
            *resident_bytes = resident * sysconf(_SC_PAGESIZE);
        }
        fclose(file);
    }
}
