/* libqconvert public API. */
#ifndef QCONVERT_H
#define QCONVERT_H
#define QCONVERT_VERSION "0.1.0"
#endif
