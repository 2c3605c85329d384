/* conc_strerror() and conc_strerror_name(), generated from CONC_ERROR_LIST. */
#include "conc/error.h"

const char *conc_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define CONC_ERROR_MSG_(name, value, msg) \
    case name:                            \
        return msg;
        CONC_ERROR_LIST(CONC_ERROR_MSG_)
#undef CONC_ERROR_MSG_
    default:
        return "unknown error";
    }
}

const char *conc_strerror_name(int code)
{
    switch (code) {
    case 0:
        return "0";
#define CONC_ERROR_NAME_(name, value, msg) \
    case name:                             \
        return #name;
        CONC_ERROR_LIST(CONC_ERROR_NAME_)
#undef CONC_ERROR_NAME_
    default:
        return "CONC_E?";
    }
}
