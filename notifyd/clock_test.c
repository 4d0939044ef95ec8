/*
 * clock_test.c - clock.c for the test build of notifyd only: the same code
 * with the injectable clock compiled in (see clock.h).
 */
#define ND_TEST_CLOCK 1
#include "clock.c"
