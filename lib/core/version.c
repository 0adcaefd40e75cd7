/* rshare core — the version of the library that is actually loaded. */
#include "config.h"

#include "rshare/version.h"

RSHARE_API const char *rshare_version_string(void)
{
    return RSHARE_VERSION_STRING;
}

RSHARE_API unsigned rshare_version_num(void)
{
    return RSHARE_VERSION_NUM;
}
