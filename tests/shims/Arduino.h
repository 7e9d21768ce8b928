/* Test shim: the few Arduino core declarations a generated sketch uses, so that the sketch can
 * be compile-checked with arm-none-eabi-g++ here. The real Arduino Mbed OS core cannot be
 * downloaded on this machine; this file only stands in for its headers, nothing runs. */
#ifndef TINYCNN_TEST_ARDUINO_SHIM_H
#define TINYCNN_TEST_ARDUINO_SHIM_H
#include <stdint.h>

unsigned long millis(void);
unsigned long micros(void);

class SerialShim {
public:
    void begin(unsigned long baud);
    int available(void);
    int read(void);
    unsigned long print(const char *text);
    explicit operator bool() const;
};
extern SerialShim Serial;
#endif
