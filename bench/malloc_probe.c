// LD_PRELOAD probe for bench/history_churn.py: a thread that answers commands written to the FIFO
// named by $MALLOC_PROBE_FIFO with glibc's allocator statistics, written to $MALLOC_PROBE_OUT.
//   "info": one line "live=<bytes in use> heap=<arena bytes> mmap=<mmapped bytes> free=<free bytes in arenas>"
//   "trim": malloc_trim(0), then "trim_us=<its duration> " and the same line
// Build: cc -O2 -shared -fPIC -o malloc_probe.so bench/malloc_probe.c -lpthread
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void report(FILE* out) {
  struct mallinfo2 m = mallinfo2();
  fprintf(out, "live=%zu heap=%zu mmap=%zu free=%zu\n", m.uordblks + m.hblkhd, m.arena, m.hblkhd, m.fordblks);
  fflush(out);
}

static void* serve(void* arg) {
  (void)arg;
  const char* fifo = getenv("MALLOC_PROBE_FIFO");
  const char* path = getenv("MALLOC_PROBE_OUT");
  if (fifo == NULL || path == NULL) {
    return NULL;
  }
  for (;;) {
    FILE* in = fopen(fifo, "r");
    if (in == NULL) {
      return NULL;
    }
    char line[64];
    while (fgets(line, sizeof line, in) != NULL) {
      FILE* out = fopen(path, "a");
      if (out == NULL) {
        continue;
      }
      if (strncmp(line, "trim", 4) == 0) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        malloc_trim(0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        fprintf(out, "trim_us=%ld ", (long)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000));
      }
      report(out);
      fclose(out);
    }
    fclose(in);
  }
}

__attribute__((constructor)) static void start(void) {
  pthread_t t;
  if (getenv("MALLOC_PROBE_FIFO") != NULL && pthread_create(&t, NULL, serve, NULL) == 0) {
    pthread_detach(t);
  }
}
