/**
 * @file conc/export.h
 * @brief Symbol visibility and small portability macros used by every public header.
 */
#ifndef CONC_EXPORT_H
#define CONC_EXPORT_H

/*
 * The library is compiled with hidden visibility; only declarations marked
 * CONC_API are exported. CONC_STATIC is defined by users who link the static
 * library on Windows, where dllimport must not be used.
 */
#if defined(_WIN32) && !defined(CONC_STATIC)
#    ifdef CONC_BUILDING
#        define CONC_API __declspec(dllexport)
#    else
#        define CONC_API __declspec(dllimport)
#    endif
#elif defined(__GNUC__)
#    define CONC_API __attribute__((visibility("default")))
#else
#    define CONC_API
#endif

/*
 * Public structs are caller-allocated, so their fields are visible, but every
 * field whose name ends in an underscore is private to libconc. Atomic fields
 * use this macro so that the headers also parse as C++ (the layout of
 * _Atomic(T) equals that of T for the types used here).
 */
#ifdef __cplusplus
#    define CONC_ATOMIC_(T) T
#else
#    define CONC_ATOMIC_(T) _Atomic(T)
#endif

#endif /* CONC_EXPORT_H */
