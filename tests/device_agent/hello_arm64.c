/* A tiny static arm64 program for the simulated phone: prints a greeting and its arguments,
 * "sleep S" sleeps S seconds between "start" and "end", otherwise the first argument is the
 * exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "sleep") == 0) {
    printf("start\n");
    fflush(stdout);
    sleep((unsigned)atoi(argv[2]));
    printf("end\n");
    return 0;
  }
  printf("hello from arm64 argc=%d\n", argc);
  return argc > 1 ? atoi(argv[1]) : 0;
}
