// libFuzzer's driver, called from each fuzz target's entry point.
//
// SwiftPM links an executable target with `main` aliased to `<target>_main`, which replaces
// libFuzzer's own `main`; each target therefore defines `<target>_main` and hands control
// to libFuzzer here (declared in compiler-rt's FuzzerInterface.h / FuzzerDriver.cpp).
#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
